/**
 * Generated SBE codec speed (SPEC §4: encode+decode of a typical control message
 * >= 5,000,000/s and >= 10x JSON.stringify+JSON.parse of the same data).
 *
 * Each operation encodes one message (header included, wrapAndApplyHeader) into a reused
 * buffer, then decodes it the way an Adapter does (header, templateId, then the message
 * decoder with the header's block length and version) and reads every field back into a
 * reused plain object (so every bigint and string is really created, as a caller keeping
 * the values would), and checks each value. The baseline does
 * JSON.stringify + JSON.parse of an object holding the same values (64-bit values as JSON
 * numbers where they fit in a double, else as decimal strings turned back into bigints),
 * and checks each value the same way. The correlation id changes with every message on
 * both sides. Encoding and decoding are separate functions, as in the project's Proxy
 * (encodes requests) and Adapter (decodes them) classes. Messages:
 * 1. ReadRequest: fixed fields only; the most frequent request (one per chunk of a
 *    reliable read). toUtcNs is null (a read by position), JSON null.
 * 2. ControlResponse: the most frequent response (OK, relevantId, empty errorMessage).
 * 3. ReplayRequest: 7 fixed fields and a 21-byte destination string.
 * 4. RecordingDescriptor (codecs/storage.xml): 16 fixed fields, one alias in a group,
 *    channel (12 bytes) and source (39 bytes) strings; UTC times do not fit a double.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/codec.bench.js [--quick] [--only MESSAGE]
 * (--quick: the table only, fewer rounds; --only: one message, for profiling with --cpu-prof).
 */
import benny from 'benny';
import {
  BooleanType, ControlResponseCode, ControlResponseDecoder, ControlResponseEncoder, ErrorCode, MessageHeaderDecoder,
  MessageHeaderEncoder, ReadRequestDecoder, ReadRequestEncoder, ReplayRequestDecoder, ReplayRequestEncoder,
} from '../codecs/generated/control/index.js';
import * as storage from '../codecs/generated/storage/index.js';
import { reportCodecFigures } from './lib/codec-figures.js';

const TARGET_RATE = 5_000_000;
const TARGET_RATIO = 10;
let sink = 0;

const buf = Buffer.alloc(4096);
const hEnc = new MessageHeaderEncoder();
const hDec = new MessageHeaderDecoder();
// Correlation ids differ per message: a ring of ready values on both sides.
const RING = 1024;
const corrBig: bigint[] = [];
const corrNum: number[] = [];
for (let i = 0; i < RING; i++) {
  corrBig.push(BigInt(1_000_000 + i * 7));
  corrNum.push(1_000_000 + i * 7);
}
const fail = (what: string): never => {
  throw new Error(`bad decode of ${what}`);
};

// ---------------------------------------------------------------- ReadRequest
const qEnc = new ReadRequestEncoder();
const qDec = new ReadRequestDecoder();
const NULL_I64 = ReadRequestDecoder.toUtcNsNullValue();
const qOut = { templateId: 0, controlSessionId: 0, correlationId: 0n, recordingId: 0, position: 0, fragmentOffset: 0, maxBytes: 0, toUtcNs: 0n };

function readEncode(corr: bigint): void {
  qEnc.wrapAndApplyHeader(buf, 0, hEnc)
    .controlSessionId(42).correlationId(corr).recordingId(7).position(1_048_576)
    .fragmentOffset(0).maxBytes(60_000).toUtcNs(NULL_I64);
}

function readDecode(o: typeof qOut): void {
  const h = hDec.wrap(buf, 0);
  o.templateId = h.templateId();
  if (o.templateId !== ReadRequestDecoder.TEMPLATE_ID) fail('ReadRequest template');
  qDec.wrap(buf, MessageHeaderDecoder.ENCODED_LENGTH, h.blockLength(), h.version());
  o.controlSessionId = qDec.controlSessionId();
  o.correlationId = qDec.correlationId();
  o.recordingId = qDec.recordingId();
  o.position = qDec.position();
  o.fragmentOffset = qDec.fragmentOffset();
  o.maxBytes = qDec.maxBytes();
  o.toUtcNs = qDec.toUtcNs();
}

function readSbe(i: number): void {
  const corr = corrBig[i & (RING - 1)]!;
  readEncode(corr);
  const o = qOut;
  readDecode(o);
  if (o.templateId !== ReadRequestDecoder.TEMPLATE_ID || o.controlSessionId !== 42 || o.correlationId !== corr || o.recordingId !== 7
    || o.position !== 1_048_576 || o.fragmentOffset !== 0 || o.maxBytes !== 60_000 || o.toUtcNs !== NULL_I64) fail('ReadRequest');
  sink += i;
}

function readJson(i: number): void {
  const corr = corrNum[i & (RING - 1)]!;
  const text = JSON.stringify({ templateId: 9, controlSessionId: 42, correlationId: corr, recordingId: 7, position: 1_048_576, fragmentOffset: 0, maxBytes: 60_000, toUtcNs: null });
  const o = JSON.parse(text) as { templateId: number; controlSessionId: number; correlationId: number; recordingId: number; position: number; fragmentOffset: number; maxBytes: number; toUtcNs: null };
  if (o.templateId !== 9 || o.controlSessionId !== 42 || o.correlationId !== corr || o.recordingId !== 7
    || o.position !== 1_048_576 || o.fragmentOffset !== 0 || o.maxBytes !== 60_000 || o.toUtcNs !== null) fail('ReadRequest JSON');
  sink += i;
}

// ---------------------------------------------------------------- ControlResponse
const cEnc = new ControlResponseEncoder();
const cDec = new ControlResponseDecoder();
const cOut = { templateId: 0, controlSessionId: 0, correlationId: 0n, relevantId: 0, code: 0, errorCode: 0, dataCount: 0, errorMessage: '' };

function responseEncode(corr: bigint): void {
  cEnc.wrapAndApplyHeader(buf, 0, hEnc)
    .controlSessionId(42).correlationId(corr).relevantId(1_114_112)
    .code(ControlResponseCode.OK).errorCode(ErrorCode.OK).dataCount(1).errorMessage('');
}

function responseDecode(o: typeof cOut): void {
  const h = hDec.wrap(buf, 0);
  o.templateId = h.templateId();
  if (o.templateId !== ControlResponseDecoder.TEMPLATE_ID) fail('ControlResponse template');
  cDec.wrap(buf, MessageHeaderDecoder.ENCODED_LENGTH, h.blockLength(), h.version());
  o.controlSessionId = cDec.controlSessionId();
  o.correlationId = cDec.correlationId();
  o.relevantId = cDec.relevantId();
  o.code = cDec.code();
  o.errorCode = cDec.errorCode();
  o.dataCount = cDec.dataCount();
  o.errorMessage = cDec.errorMessage();
}

function responseSbe(i: number): void {
  const corr = corrBig[i & (RING - 1)]!;
  responseEncode(corr);
  const o = cOut;
  responseDecode(o);
  if (o.templateId !== ControlResponseDecoder.TEMPLATE_ID || o.controlSessionId !== 42 || o.correlationId !== corr || o.relevantId !== 1_114_112
    || o.code !== ControlResponseCode.OK || o.errorCode !== ErrorCode.OK || o.dataCount !== 1 || o.errorMessage !== '') fail('ControlResponse');
  sink += i;
}

function responseJson(i: number): void {
  const corr = corrNum[i & (RING - 1)]!;
  const text = JSON.stringify({ templateId: 100, controlSessionId: 42, correlationId: corr, relevantId: 1_114_112, code: 0, errorCode: 0, dataCount: 1, errorMessage: '' });
  const o = JSON.parse(text) as { templateId: number; controlSessionId: number; correlationId: number; relevantId: number; code: number; errorCode: number; dataCount: number; errorMessage: string };
  if (o.templateId !== 100 || o.controlSessionId !== 42 || o.correlationId !== corr || o.relevantId !== 1_114_112
    || o.code !== 0 || o.errorCode !== 0 || o.dataCount !== 1 || o.errorMessage !== '') fail('ControlResponse JSON');
  sink += i;
}

// ---------------------------------------------------------------- ReplayRequest
const rEnc = new ReplayRequestEncoder();
const rDec = new ReplayRequestDecoder();
const destination = 'udp://127.0.0.1:40123';
const rOut = { templateId: 0, controlSessionId: 0, correlationId: 0n, recordingId: 0, position: 0, length: 0, speed: 0, follow: 0, destination: '' };

function replayEncode(corr: bigint): void {
  rEnc.wrapAndApplyHeader(buf, 0, hEnc)
    .controlSessionId(42).correlationId(corr).recordingId(7).position(0).length(1_048_576)
    .speed(1).follow(BooleanType.FALSE).destination(destination);
}

function replayDecode(o: typeof rOut): void {
  const h = hDec.wrap(buf, 0);
  o.templateId = h.templateId();
  if (o.templateId !== ReplayRequestDecoder.TEMPLATE_ID) fail('ReplayRequest template');
  rDec.wrap(buf, MessageHeaderDecoder.ENCODED_LENGTH, h.blockLength(), h.version());
  o.controlSessionId = rDec.controlSessionId();
  o.correlationId = rDec.correlationId();
  o.recordingId = rDec.recordingId();
  o.position = rDec.position();
  o.length = rDec.length();
  o.speed = rDec.speed();
  o.follow = rDec.follow();
  o.destination = rDec.destination();
}

function replaySbe(i: number): void {
  const corr = corrBig[i & (RING - 1)]!;
  replayEncode(corr);
  const o = rOut;
  replayDecode(o);
  if (o.templateId !== ReplayRequestDecoder.TEMPLATE_ID || o.controlSessionId !== 42 || o.correlationId !== corr
    || o.recordingId !== 7 || o.position !== 0 || o.length !== 1_048_576 || o.speed !== 1
    || o.follow !== BooleanType.FALSE || o.destination !== destination) fail('ReplayRequest');
  sink += i;
}

function replayJson(i: number): void {
  const corr = corrNum[i & (RING - 1)]!;
  const text = JSON.stringify({ templateId: 6, controlSessionId: 42, correlationId: corr, recordingId: 7, position: 0, length: 1_048_576, speed: 1, follow: false, destination });
  const o = JSON.parse(text) as { templateId: number; controlSessionId: number; correlationId: number; recordingId: number; position: number; length: number; speed: number; follow: boolean; destination: string };
  if (o.templateId !== 6 || o.controlSessionId !== 42 || o.correlationId !== corr || o.recordingId !== 7 || o.position !== 0
    || o.length !== 1_048_576 || o.speed !== 1 || o.follow !== false || o.destination !== destination) fail('ReplayRequest JSON');
  sink += i;
}

// ---------------------------------------------------------------- RecordingDescriptor
const sHEnc = new storage.MessageHeaderEncoder();
const sHDec = new storage.MessageHeaderDecoder();
const dEnc = new storage.RecordingDescriptorEncoder();
const dDec = new storage.RecordingDescriptorDecoder();
const channel = 'radar.tracks';
const source = 'udp://239.1.2.3:5000?interface=10.0.0.1';
const alias = 'tracks';
const utc = 1_764_000_000_000_000_000n;
// computed once for both sides (a bigint addition allocates: it is no part of either codec)
const stopUtc = utc + 1000n;
const dOut = {
  templateId: 0, checksum: 0, state: 0, lifecycle: 0, failureCode: 0, recordingId: 0, startPosition: 0, stopPosition: 0,
  startUtcNs: 0n, stopUtcNs: 0n, startMonoNs: 0n, stopMonoNs: 0n, eventCount: 0, segmentLength: 0, cleanStop: 0,
  reserved1: 0, reserved2: 0, alias: '', channel: '', source: '',
};

function descriptorEncode(rec: number): void {
  dEnc.wrapAndApplyHeader(buf, 0, sHEnc)
    .checksum(0).state(1 as storage.DescriptorState).lifecycle(1 as storage.RecordingLifecycle).failureCode(0)
    .recordingId(rec).startPosition(0).stopPosition(123_456_789)
    .startUtcNs(utc).stopUtcNs(stopUtc).startMonoNs(5n).stopMonoNs(1005n)
    .eventCount(1_000_000).segmentLength(64 << 20).cleanStop(storage.BooleanType.TRUE).reserved1(0).reserved2(0);
  dEnc.aliasesCount(1).next().alias(alias);
  dEnc.channel(channel).source(source);
}

function descriptorDecode(o: typeof dOut): void {
  const h = sHDec.wrap(buf, 0);
  o.templateId = h.templateId();
  if (o.templateId !== storage.RecordingDescriptorDecoder.TEMPLATE_ID) fail('RecordingDescriptor template');
  dDec.wrap(buf, storage.MessageHeaderDecoder.ENCODED_LENGTH, h.blockLength(), h.version());
  o.checksum = dDec.checksum();
  o.state = dDec.state();
  o.lifecycle = dDec.lifecycle();
  o.failureCode = dDec.failureCode();
  o.recordingId = dDec.recordingId();
  o.startPosition = dDec.startPosition();
  o.stopPosition = dDec.stopPosition();
  o.startUtcNs = dDec.startUtcNs();
  o.stopUtcNs = dDec.stopUtcNs();
  o.startMonoNs = dDec.startMonoNs();
  o.stopMonoNs = dDec.stopMonoNs();
  o.eventCount = dDec.eventCount();
  o.segmentLength = dDec.segmentLength();
  o.cleanStop = dDec.cleanStop();
  o.reserved1 = dDec.reserved1();
  o.reserved2 = dDec.reserved2();
  const aliases = dDec.aliases();
  while (aliases.hasNext()) o.alias = aliases.next().alias();
  o.channel = dDec.channel();
  o.source = dDec.source();
}

function descriptorSbe(i: number): void {
  const rec = corrNum[i & (RING - 1)]!;
  descriptorEncode(rec);
  const o = dOut;
  descriptorDecode(o);
  if (o.templateId !== storage.RecordingDescriptorDecoder.TEMPLATE_ID || o.checksum !== 0 || o.state !== 1 || o.lifecycle !== 1
    || o.failureCode !== 0 || o.recordingId !== rec || o.startPosition !== 0 || o.stopPosition !== 123_456_789
    || o.startUtcNs !== utc || o.stopUtcNs !== stopUtc || o.startMonoNs !== 5n || o.stopMonoNs !== 1005n
    || o.eventCount !== 1_000_000 || o.segmentLength !== 64 << 20 || o.cleanStop !== storage.BooleanType.TRUE
    || o.reserved1 !== 0 || o.reserved2 !== 0 || o.alias !== alias || o.channel !== channel || o.source !== source) fail('RecordingDescriptor');
  sink += i;
}

const utcText = utc.toString();
const stopUtcText = stopUtc.toString();

function descriptorJson(i: number): void {
  const rec = corrNum[i & (RING - 1)]!;
  const text = JSON.stringify({
    templateId: 2, checksum: 0, state: 1, lifecycle: 1, failureCode: 0, recordingId: rec, startPosition: 0, stopPosition: 123_456_789,
    startUtcNs: utcText, stopUtcNs: stopUtcText, startMonoNs: 5, stopMonoNs: 1005, eventCount: 1_000_000,
    segmentLength: 64 << 20, cleanStop: true, reserved1: 0, reserved2: 0, aliases: [alias], channel, source,
  });
  const o = JSON.parse(text) as {
    templateId: number; checksum: number; state: number; lifecycle: number; failureCode: number; recordingId: number; startPosition: number;
    stopPosition: number; startUtcNs: string; stopUtcNs: string; startMonoNs: number; stopMonoNs: number; eventCount: number;
    segmentLength: number; cleanStop: boolean; reserved1: number; reserved2: number; aliases: string[]; channel: string; source: string;
  };
  const startUtcNs = BigInt(o.startUtcNs);
  const stopUtcNs = BigInt(o.stopUtcNs);
  if (o.templateId !== 2 || o.checksum !== 0 || o.state !== 1 || o.lifecycle !== 1 || o.failureCode !== 0 || o.recordingId !== rec
    || o.startPosition !== 0 || o.stopPosition !== 123_456_789 || startUtcNs !== utc || stopUtcNs !== stopUtc
    || o.startMonoNs !== 5 || o.stopMonoNs !== 1005 || o.eventCount !== 1_000_000 || o.segmentLength !== 64 << 20
    || o.cleanStop !== true || o.reserved1 !== 0 || o.reserved2 !== 0 || o.aliases.length !== 1 || o.aliases[0] !== alias
    || o.channel !== channel || o.source !== source) fail('RecordingDescriptor JSON');
  sink += i;
}

// Each case runs a batch so the per-call overhead of the harness does not dominate. Each batch
// loop is compiled on its own (new Function): one shared loop would see every case at its
// call site, call them all megamorphically and inline none, which taxes the cheaper side most.
const BATCH = 1000;
const counter = { base: 0 };
const batch = (f: (i: number) => void): (() => void) =>
  new Function('f', 'counter', 'n', `return function batch() {
    const base = counter.base;
    for (let i = 0; i < n; i++) f(base + i);
    counter.base = base + n;
  };`)(f, counter, BATCH) as () => void;

/**
 * ops per CPU second of f, run for about `ms` milliseconds of that CPU time. CPU time (user +
 * system of this process, process.cpuUsage) rather than wall time: on a shared machine the
 * time this process waits for a core would otherwise count against whichever side ran then.
 */
function rateOf(f: () => void, ms: number): number {
  let n = 0;
  const t0 = process.cpuUsage();
  const limitUs = ms * 1000;
  let us = 0;
  do {
    f();
    n++;
    const d = process.cpuUsage(t0);
    us = d.user + d.system;
  } while (us < limitUs);
  return (n * BATCH) / (us / 1e6);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const cases = [
  { m: 'ReadRequest', sbe: readSbe, json: readJson },
  { m: 'ControlResponse', sbe: responseSbe, json: responseJson },
  { m: 'ReplayRequest', sbe: replaySbe, json: replayJson },
  { m: 'RecordingDescriptor', sbe: descriptorSbe, json: descriptorJson },
];

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  if (!quick && !process.argv.includes('--only')) {
    await benny.suite(
      'SBE generated codecs vs JSON (encode + decode)',
      ...cases.flatMap(({ m, sbe, json }) => [
        benny.add(`${m} JSON`, batch(json), { minSamples: 10, maxTime: 0.5 }),
        benny.add(`${m} SBE`, batch(sbe), { minSamples: 10, maxTime: 0.5 }),
      ]),
      benny.cycle(),
    );
  }
  // The table comes from interleaved rounds (JSON, SBE, JSON, SBE, ...) and their medians:
  // on a shared machine the load changes between benny's sequential cases, which would
  // colour the ratio.
  const only = process.argv.indexOf('--only');
  const chosen = only >= 0 ? cases.filter((c) => c.m === process.argv[only + 1]) : cases;
  const rows = chosen.map(({ m, sbe, json }) => {
    const s: number[] = [];
    const j: number[] = [];
    const ratios: number[] = [];
    const sb = batch(sbe);
    const jb = batch(json);
    for (let round = 0; round < (quick ? 5 : 9); round++) {
      const jr = rateOf(jb, 150);
      const sr = rateOf(sb, 150);
      j.push(jr);
      s.push(sr);
      ratios.push(sr / jr);
    }
    const out = { m, sbe: median(s), json: median(j), ratio: median(ratios) };
    return { ...out, okRate: out.sbe >= TARGET_RATE, okRatio: out.ratio >= TARGET_RATIO };
  });
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  const yes = (b: boolean): string => (b ? 'met' : 'NOT met');
  process.stdout.write(`\n${'figure: encode+decode/s (median)'.padEnd(34)}${'SBE'.padStart(12)}${'JSON baseline'.padStart(16)}${'ratio'.padStart(8)}`);
  process.stdout.write(`  ${`>= ${fmt(TARGET_RATE)}/s`.padEnd(16)}>= ${TARGET_RATIO}x\n`);
  for (const r of rows) {
    process.stdout.write(`${r.m.padEnd(34)}${fmt(r.sbe).padStart(12)}${fmt(r.json).padStart(16)}${r.ratio.toFixed(1).padStart(8)}`);
    process.stdout.write(`  ${yes(r.okRate).padEnd(16)}${yes(r.okRatio)}\n`);
  }
  reportCodecFigures(rows);
  if (sink === -1) process.stdout.write('\n');
}

await main();

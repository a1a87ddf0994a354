/**
 * Generated SBE codec speed (SPEC §4: encode+decode of a typical control message
 * >= 5,000,000/s and >= 10x JSON.stringify+JSON.parse of the same data).
 *
 * Each operation encodes one message (header included) into a reused buffer and decodes
 * every field back (strings included), against JSON.stringify + JSON.parse of an object
 * holding the same values, measured in the same run:
 * 1. ReplayRequest (codecs/control.xml): 7 fixed fields and a short destination string.
 * 2. RecordingDescriptor (codecs/storage.xml): 16 fixed fields, one alias in a group,
 *    channel and source strings.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/codec.bench.js
 */
import benny from 'benny';
import {
  BooleanType, MessageHeaderDecoder, MessageHeaderEncoder, ReplayRequestDecoder, ReplayRequestEncoder,
} from '../codecs/generated/control/index.js';
import * as storage from '../codecs/generated/storage/index.js';

const TARGET_RATE = 5_000_000;
const TARGET_RATIO = 10;
let sink = 0;

// ---------------------------------------------------------------- ReplayRequest
const buf = Buffer.alloc(4096);
const hEnc = new MessageHeaderEncoder();
const hDec = new MessageHeaderDecoder();
const rEnc = new ReplayRequestEncoder();
const rDec = new ReplayRequestDecoder();
const destination = 'udp://127.0.0.1:40123';

function replaySbe(i: number): void {
  rEnc.wrapAndApplyHeader(buf, 0, hEnc)
    .controlSessionId(42n).correlationId(1000n).recordingId(7n).position(0n).length(1_048_576n)
    .speed(1).follow(BooleanType.FALSE).destination(destination);
  rDec.wrapAndApplyHeader(buf, 0, hDec);
  // Every field is read and checked (comparisons: no arithmetic on bigints, as on the JSON side).
  if (hDec.templateId() !== ReplayRequestDecoder.TEMPLATE_ID || rDec.controlSessionId() !== 42n || rDec.correlationId() !== 1000n
    || rDec.recordingId() !== 7n || rDec.position() !== 0n || rDec.length() !== 1_048_576n || rDec.speed() !== 1
    || rDec.follow() !== BooleanType.FALSE || rDec.destination() !== destination) throw new Error('bad decode');
  sink += i;
}

function replayJson(i: number): void {
  const text = JSON.stringify({ templateId: 6, controlSessionId: 42, correlationId: 1000, recordingId: 7, position: 0, length: 1_048_576, speed: 1, follow: false, destination });
  const o = JSON.parse(text) as { templateId: number; controlSessionId: number; correlationId: number; recordingId: number; position: number; length: number; speed: number; follow: boolean; destination: string };
  if (o.templateId !== 6 || o.controlSessionId !== 42 || o.correlationId !== 1000 || o.recordingId !== 7 || o.position !== 0
    || o.length !== 1_048_576 || o.speed !== 1 || o.follow !== false || o.destination !== destination) throw new Error('bad parse');
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

function descriptorSbe(i: number): void {
  dEnc.wrapAndApplyHeader(buf, 0, sHEnc)
    .checksum(0).state(1 as storage.DescriptorState).lifecycle(1 as storage.RecordingLifecycle).failureCode(0)
    .recordingId(7n).startPosition(0n).stopPosition(123_456_789n)
    .startUtcNs(utc).stopUtcNs(utc + 1000n).startMonoNs(5n).stopMonoNs(1005n)
    .eventCount(1_000_000n).segmentLength(64 << 20).cleanStop(storage.BooleanType.TRUE).reserved1(0).reserved2(0);
  dEnc.aliasesCount(1).next().alias(alias);
  dEnc.channel(channel).source(source);
  dDec.wrapAndApplyHeader(buf, 0, sHDec);
  let n = dDec.checksum() + dDec.state() + dDec.lifecycle() + dDec.failureCode() + dDec.segmentLength() + dDec.cleanStop();
  n += Number(dDec.recordingId() + dDec.startPosition() + dDec.stopPosition() + dDec.eventCount() + dDec.startMonoNs() + dDec.stopMonoNs());
  n += Number((dDec.stopUtcNs() - dDec.startUtcNs()) & 0xffffn);
  const aliases = dDec.aliases();
  while (aliases.hasNext()) n += aliases.next().alias().length;
  n += dDec.channel().length + dDec.source().length;
  sink += n + i;
}

function descriptorJson(i: number): void {
  const text = JSON.stringify({
    templateId: 2, checksum: 0, state: 1, lifecycle: 1, failureCode: 0, recordingId: 7, startPosition: 0, stopPosition: 123_456_789,
    startUtcNs: utc.toString(), stopUtcNs: (utc + 1000n).toString(), startMonoNs: 5, stopMonoNs: 1005, eventCount: 1_000_000,
    segmentLength: 64 << 20, cleanStop: true, aliases: [alias], channel, source,
  });
  const o = JSON.parse(text) as Record<string, number | string | boolean | string[]>;
  let n = (o.checksum as number) + (o.state as number) + (o.lifecycle as number) + (o.failureCode as number) + (o.segmentLength as number) + (o.cleanStop ? 1 : 0);
  n += (o.recordingId as number) + (o.startPosition as number) + (o.stopPosition as number) + (o.eventCount as number) + (o.startMonoNs as number) + (o.stopMonoNs as number);
  n += Number((BigInt(o.stopUtcNs as string) - BigInt(o.startUtcNs as string)) & 0xffffn);
  for (const a of o.aliases as string[]) n += a.length;
  n += (o.channel as string).length + (o.source as string).length;
  sink += n + i;
}

// Each benny case runs a batch so the per-call overhead of the harness does not dominate.
const BATCH = 1000;
const batch = (f: (i: number) => void) => (): void => {
  for (let i = 0; i < BATCH; i++) f(i);
};

/** ops/s of f over about `ms` milliseconds. */
function rateOf(f: () => void, ms: number): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(ms) * 1_000_000n;
  let dt = 0n;
  do {
    f();
    n++;
    dt = process.hrtime.bigint() - t0;
  } while (dt < limit);
  return (n * BATCH) / (Number(dt) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const opts = { minSamples: 20, maxTime: 1 };
  await benny.suite(
    'SBE generated codecs vs JSON (encode + decode)',
    benny.add('ReplayRequest JSON', batch(replayJson), opts),
    benny.add('ReplayRequest SBE', batch(replaySbe), opts),
    benny.add('RecordingDescriptor JSON', batch(descriptorJson), opts),
    benny.add('RecordingDescriptor SBE', batch(descriptorSbe), opts),
    benny.cycle(),
  );
  // The table comes from interleaved rounds (JSON, SBE, JSON, SBE, ...) and their medians:
  // on a shared machine the load changes between benny's sequential cases, which would
  // colour the ratio.
  const cases = [
    { m: 'ReplayRequest', sbe: batch(replaySbe), json: batch(replayJson) },
    { m: 'RecordingDescriptor', sbe: batch(descriptorSbe), json: batch(descriptorJson) },
  ];
  const rows = cases.map(({ m, sbe, json }) => {
    const s: number[] = [];
    const j: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < 9; round++) {
      const jr = rateOf(json, 150);
      const sr = rateOf(sbe, 150);
      j.push(jr);
      s.push(sr);
      ratios.push(sr / jr);
    }
    const out = { m, sbe: median(s), json: median(j), ratio: median(ratios) };
    return { ...out, ok: out.sbe >= TARGET_RATE && out.ratio >= TARGET_RATIO };
  });
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  process.stdout.write(`\n${'figure (encode+decode/s, median)'.padEnd(34)}${'SBE'.padStart(12)}${'JSON baseline'.padStart(16)}${'ratio'.padStart(8)}  target >= ${fmt(TARGET_RATE)}/s and >= ${TARGET_RATIO}x\n`);
  for (const r of rows) {
    process.stdout.write(`${r.m.padEnd(34)}${fmt(r.sbe).padStart(12)}${fmt(r.json).padStart(16)}${r.ratio.toFixed(1).padStart(8)}  ${r.ok ? 'met' : 'NOT met'}\n`);
  }
  if (sink === -1) process.stdout.write('\n');
}

await main();

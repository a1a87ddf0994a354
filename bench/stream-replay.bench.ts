/**
 * Streamed replay into a client process (issue 9; SPEC §4: >= 1,000,000 events/s for 200-byte
 * events, >= 1 GB/s for 64 KiB events), against baselines measured in the same run on the same
 * machine:
 * - raw TCP pipe: a child process writes as many bytes as the stream carried, in ready-made
 *   64 KiB writes, and this process only counts them (the loopback ceiling);
 * - UDP pull: the same recording read with stateless ReadRequests over the control channel
 *   (one request per ~56 KiB chunk, large events in fragments), as the client read before the
 *   stream.
 * Subject: a real archiver process (`vcr archiver`) and this process as its client, iterating
 * `ArchiveClient.read()` and `ArchiveClient.events()` (one channel: the archiver's merge path)
 * with `for await`, touching each payload's length. Times run from the request to the last
 * event. Recordings are made first from files (200-byte and 64 KiB lines). Each path gets one
 * untimed warm-up pass, then each figure is the median of 3 runs (1 with --quick: 100,000 x
 * 200 B and 512 x 64 KiB instead of 1,000,000 and 4,096). The load average before and after
 * is printed with the table: the machine may be shared. Figures reach RESULTS.md through
 * bench/lib/results.ts (`npm run bench`).
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/stream-replay.bench.js [--quick]
 */
import { fork } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_STREAM_BATCH_BYTES } from '../src/archiver/stream-proxy.js';
import { ArchiveClient } from '../src/client/index.js';
import { BATCH_OVERHEAD as BATCH_WIRE_OVERHEAD, EVENT_OVERHEAD as EVENT_WIRE_OVERHEAD } from '../src/protocol/stream-layout.js';
import { startArchiver, type ArchiverProcess } from './udp/archiver-process.js';
import { boostPriority, installCleanup, tempDir, trackChild } from './udp/cleanup.js';
import { bar, isQuick, note, printFigures, record, type Target } from './lib/results.js';

const BENCH = 'stream-replay';
const quick = isQuick();
const RUNS = quick ? 1 : 3;
/** Wire bytes of the stream: per event, per batch (+ the 4-byte frame prefix), and a batch's size. */
const EVENT_OVERHEAD = EVENT_WIRE_OVERHEAD;
const BATCH_OVERHEAD = BATCH_WIRE_OVERHEAD + 4;
const BATCH = DEFAULT_STREAM_BATCH_BYTES;

interface Result {
  events: number;
  payloadBytes: number;
  ns: number;
  /** CPU time of this (client) process and of the archiver process during the run, ns. */
  clientCpuNs?: number;
  archiverCpuNs?: number;
}

/** CPU time (user + system) of a process so far, in ns (from /proc: 10 ms ticks), or NaN. */
function processCpuNs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000_000;
  } catch {
    return NaN;
  }
}

interface Workload {
  label: string;
  size: number;
  count: number;
  channel: string;
  recordingId: number;
}

/** A file of `count` lines of `size` bytes each (plus the newline separator). */
async function writeLines(path: string, size: number, count: number): Promise<void> {
  const out = createWriteStream(path);
  const chunkLines = Math.max(1, Math.floor((1 << 20) / (size + 1)));
  const line = Buffer.alloc(size + 1, 0x61);
  line[size] = 0x0a;
  const chunk = Buffer.concat(Array.from({ length: chunkLines }, () => line));
  for (let left = count; left > 0; left -= chunkLines) {
    const n = Math.min(left, chunkLines);
    const ok = out.write(n === chunkLines ? chunk : chunk.subarray(0, n * (size + 1)));
    if (!ok) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function recordFile(ar: ArchiverProcess, dir: string, label: string, size: number, count: number): Promise<Workload> {
  const channel = `bench.${size}`;
  const path = join(dir, `${channel}.txt`);
  await writeLines(path, size, count);
  const recordingId = await ar.client.startRecording({ channel, source: `file://${path}?separator=%0A&maxEventSize=${Math.max(size, 1 << 20)}` });
  for (;;) {
    const d = await ar.client.describeRecording(recordingId);
    if (d.state !== 'recording') {
      if (d.eventCount !== count) throw new Error(`${channel}: recorded ${d.eventCount} events, expected ${count}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { label, size, count, channel, recordingId };
}

async function timeIt(iterable: AsyncIterable<{ payload: Buffer }>, archiverPid: number): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const archiver0 = processCpuNs(archiverPid);
  const t0 = process.hrtime.bigint();
  let events = 0;
  let payloadBytes = 0;
  for await (const e of iterable) {
    events++;
    payloadBytes += e.payload.length;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { events, payloadBytes, ns, clientCpuNs: (cpu.user + cpu.system) * 1000, archiverCpuNs: processCpuNs(archiverPid) - archiver0 };
}

/** The old pull: stateless ReadRequests, fragments reassembled, until the end of the recording. */
async function udpPull(client: ArchiveClient, w: Workload): Promise<Result> {
  const t0 = process.hrtime.bigint();
  const d = await client.describeRecording(w.recordingId);
  let position = d.startPosition;
  let fragmentOffset = 0;
  let events = 0;
  let payloadBytes = 0;
  for (;;) {
    const chunk = await client.readChunk({ recordingId: w.recordingId, position, fragmentOffset, maxBytes: 56 * 1024 });
    for (const e of chunk.events) {
      if (e.fragmentOffset + e.payload.length === e.eventLength) events++;
      payloadBytes += e.payload.length;
    }
    if (chunk.endOfRecording || (chunk.nextPosition === position && chunk.nextFragmentOffset === fragmentOffset)) break;
    position = chunk.nextPosition;
    fragmentOffset = chunk.nextFragmentOffset;
  }
  return { events, payloadBytes, ns: Number(process.hrtime.bigint() - t0) };
}

/** The raw pipe: a child writes `bytes` in 64 KiB writes; this process counts them. Returns wall ns and the sender's CPU ns. */
async function rawPipe(bytes: number): Promise<{ ns: number; senderCpuNs: number }> {
  const server = createServer({ noDelay: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const child = trackChild(fork(fileURLToPath(import.meta.url), ['raw-sender', String(port), String(bytes)], { stdio: 'inherit' }));
  const senderCpu = new Promise<number>((r) => child.once('message', (m) => r(Number(m))));
  const socket = await accepted;
  const t0 = process.hrtime.bigint();
  let got = 0;
  await new Promise<void>((resolve) => {
    socket.on('data', (b: Buffer) => {
      got += b.length;
      if (got >= bytes) resolve();
    });
  });
  const ns = Number(process.hrtime.bigint() - t0);
  socket.destroy();
  server.close();
  const senderCpuNs = await senderCpu;
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
  return { ns, senderCpuNs };
}

async function rawSender(port: number, bytes: number): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((r) => socket.once('connect', r));
  const block = Buffer.alloc(BATCH, 0x5a);
  const cpu0 = process.cpuUsage();
  for (let left = bytes; left > 0; left -= BATCH) {
    if (!socket.write(left >= BATCH ? block : block.subarray(0, left))) await new Promise((r) => socket.once('drain', r));
  }
  const cpu = process.cpuUsage(cpu0);
  process.send?.((cpu.user + cpu.system) * 1000);
  socket.end();
  await new Promise((r) => socket.once('close', r));
}

function median(results: Result[]): Result {
  const s = [...results].sort((a, b) => a.ns - b.ns);
  return s[Math.floor(s.length / 2)]!;
}

async function runs(n: number, f: () => Promise<Result>): Promise<Result> {
  const out: Result[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return median(out);
}

const rate = (r: Result): number => r.events / (r.ns / 1e9);
const mbs = (r: Result): number => r.payloadBytes / (r.ns / 1e9) / 1e6;
const fmt = (r: Result): string => `${Math.round(rate(r)).toLocaleString('en-US')} ev/s, ${mbs(r).toFixed(0)} MB/s`;
/** CPU per event in each process: what the rate would be bounded by on otherwise idle cores. */
const cpuPerEvent = (r: Result): string =>
  r.clientCpuNs === undefined ? '' : ` (CPU/event: client ${(r.clientCpuNs / r.events).toFixed(0)} ns, archiver ${((r.archiverCpuNs ?? NaN) / r.events).toFixed(0)} ns)`;

async function main(): Promise<void> {
  installCleanup('stream-replay.bench', 600_000);
  const boost = boostPriority(-5);
  const loadBefore = loadavg();
  const dir = tempDir('stream');
  const ar = await startArchiver(join(dir, 'archive'));
  try {
    const workloads = [
      await recordFile(ar, dir, '200 B', 200, quick ? 100_000 : 1_000_000),
      await recordFile(ar, dir, '64 KiB', 64 * 1024, quick ? 512 : 4_096),
    ];
    const client = ar.client;
    const rawCpus: string[] = [];
    for (const w of workloads) {
      const check = (r: Result): Result => {
        if (r.events !== w.count || r.payloadBytes !== w.count * w.size) throw new Error(`${w.label}: got ${r.events} events / ${r.payloadBytes} bytes`);
        return r;
      };
      // one untimed pass of each path first: JIT and heap sizing in both processes, page cache
      check(await timeIt(client.read({ recordingId: w.recordingId }), ar.pid));
      check(await timeIt(client.events({ channels: [w.channel] }), ar.pid));
      check(await udpPull(client, w));
      const stream = await runs(RUNS, async () => check(await timeIt(client.read({ recordingId: w.recordingId }), ar.pid)));
      const merged = await runs(RUNS, async () => check(await timeIt(client.events({ channels: [w.channel] }), ar.pid)));
      const pull = await runs(RUNS, async () => check(await udpPull(client, w)));
      const wire = w.count * (w.size + EVENT_OVERHEAD) + Math.ceil((w.count * (w.size + EVENT_OVERHEAD)) / BATCH) * BATCH_OVERHEAD;
      const rawRuns: Result[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await rawPipe(wire);
        rawRuns.push({ events: w.count, payloadBytes: w.count * w.size, ns: r.ns, archiverCpuNs: r.senderCpuNs });
      }
      const raw = median(rawRuns);
      rawCpus.push(`${w.label} ${((raw.archiverCpuNs ?? NaN) / raw.events).toFixed(0)} ns`);
      // 200 B events are judged in events/s, 64 KiB events in MB/s (SPEC §4)
      const small = w.size === 200;
      const unit = small ? 'events/s' : 'MB/s';
      const val = (r: Result): number => (small ? Math.round(rate(r)) : Math.round(mbs(r) * 10) / 10);
      const targets: Target[] = [small ? { op: '>=', value: 1_000_000, text: '>= 1,000,000 events/s (SPEC §4)' } : { op: '>=', value: 1000, text: '>= 1 GB/s (SPEC §4)' }];
      const what = `${w.count.toLocaleString('en-US')} x ${w.label}`;
      const rawBase = { name: 'raw TCP pipe of the same wire bytes', value: val(raw) };
      record({ bench: BENCH, figure: `read() stream into a client process, ${what}`, value: val(stream), unit, baseline: rawBase, targets, note: cpuPerEvent(stream).trim() });
      record({ bench: BENCH, figure: `events() stream (merge path), ${what}`, value: val(merged), unit, baseline: rawBase, targets, note: cpuPerEvent(merged).trim() });
      record({ bench: BENCH, figure: `  read() stream vs the UDP pull it replaced, ${what}`, value: val(stream), unit, baseline: { name: 'UDP pull (ReadRequest per chunk)', value: val(pull) } });
      const group = `streamed replay, ${w.label} events, ${unit}`;
      bar({ group, system: 'VCR read() stream', value: val(stream), unit, vcr: true });
      bar({ group, system: 'VCR events() stream', value: val(merged), unit, vcr: true });
      bar({ group, system: 'VCR UDP pull (before)', value: val(pull), unit });
      bar({ group, system: 'raw TCP pipe', value: val(raw), unit });
    }
    const rawCpu = rawCpus.join(', ');
    const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
    note(BENCH, `median of ${RUNS} after one untimed pass of each path; archiver and client in separate processes; ${boost}; load average ${load(loadBefore)} before, ${load(loadavg())} after; raw pipe sender CPU/event ${rawCpu}`);
    printFigures(`streamed replay into a client process${quick ? ' (quick)' : ''}`);
  } finally {
    await ar.stop();
  }
}

if (process.argv[2] === 'raw-sender') {
  void rawSender(Number(process.argv[3]), Number(process.argv[4]));
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`stream-replay.bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

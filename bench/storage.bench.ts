/**
 * Storage engine speed (issue 3 point 9, SPEC §4), in-process, each figure against a baseline
 * measured in the same run:
 * 1. append of 100-byte and 1000-byte events (Archive writer, commit every 1000 events) vs a
 *    plain sequential `fs.writeSync` loop writing the same frame bytes one event per call;
 *    target >= 1,000,000 appends/s of 100 bytes;
 * 2. durable append: the writer at fileSyncLevel 2 (msync data and metadata at every commit,
 *    one per 1000 events) vs the same writeSync loop with an fsync every 1000 events;
 * 3. sequential read of a 1000-byte-event recording through RecordingReader vs `fs.readSync`
 *    of the same segment files in 1 MiB chunks (page cache); target >= 1 GB/s;
 * 4. seek by UTC time (findPosition) in a 50M-event recording of 8-byte payloads (~2 GB,
 *    deleted afterwards) vs a single 32-byte `fs.readSync` at a random offset of the same
 *    files; target median <= 50 µs. The same fill gives the scaling curve "seek latency vs
 *    recording size": the median is also taken at checkpoints while the recording grows.
 *    VCR_BENCH_SEEK_EVENTS (or --seek-events) overrides the event count.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/storage.bench.js [--quick]
 */
import { closeSync, fsyncSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import benny from 'benny';
import { Archive } from '../src/storage/archive.js';
import { argNumber, bar, isQuick, note, point, printFigures, record } from './lib/results.js';
import { installCleanup, tempDir } from './udp/cleanup.js';

const BENCH = 'storage';
const BATCH = 10_000;
const quick = isQuick();
const MAX_TIME = quick ? 0.2 : 1;
const MIN_SAMPLES = quick ? 3 : 5;
const SEEK_EVENTS = Number(process.env.VCR_BENCH_SEEK_EVENTS ?? argNumber('--seek-events', 50_000_000, 500_000));
const SEEK_PROBES = quick ? 5_000 : 20_000;

installCleanup(BENCH, quick ? 55_000 : 590_000);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function appendBench(size: number, durable: boolean): Promise<void> {
  const dir = tempDir('append');
  const archive = Archive.open(dir, { fileSyncLevel: durable ? 2 : 0 });
  const w = archive.createRecording({ channel: 'bench', source: 'bench:', startUtcNs: 0n, startMonoNs: 0n });
  const payload = Buffer.alloc(size, 0x61);
  let utc = 1n;
  const frame = Buffer.alloc(32 + size, 0x61);
  const fd = openSync(join(dir, 'baseline.bin'), 'w');
  let filePos = 0;
  const baseName = durable ? 'baseline: fs.writeSync per event, fsync per 1000' : 'baseline: fs.writeSync per event';
  const summary = await benny.suite(
    `append ${size}-byte events (${BATCH} per op)${durable ? ', durable' : ''}`,
    benny.add(baseName, () => {
      for (let i = 0; i < BATCH; i++) {
        frame.writeBigInt64LE(utc, 8);
        filePos += writeSync(fd, frame, 0, frame.length, filePos);
        if (durable && i % 1000 === 999) fsyncSync(fd);
      }
    }, { minSamples: MIN_SAMPLES, maxTime: MAX_TIME }),
    benny.add('RecordingWriter.append', () => {
      for (let i = 0; i < BATCH; i++) {
        w.append(payload, 0, size, utc++, utc);
        if (i % 1000 === 999) w.commit();
      }
    }, { minSamples: MIN_SAMPLES, maxTime: MAX_TIME }),
    benny.cycle(),
  );
  closeSync(fd);
  w.stop();
  archive.close();
  rmSync(dir, { recursive: true, force: true });
  const ops = (n: string): number => 1 / summary.results.find((r) => r.name.startsWith(n))!.details.mean * BATCH;
  const v = ops('RecordingWriter');
  const b = ops('baseline');
  record({
    bench: BENCH,
    figure: durable ? `durable append ${size} B (fileSyncLevel 2, commit per 1000)` : `append ${size} B events`,
    value: v,
    unit: 'events/s',
    baseline: { name: durable ? 'writeSync loop + fsync per 1000' : 'sequential writeSync loop', value: b },
    targets: size === 100 && !durable ? [{ op: '>=', value: 1_000_000, text: '>= 1,000,000 events/s (issue 3)' }] : undefined,
  });
  if (size === 100 && !durable) {
    bar({ group: 'storage append, 100 B events', system: 'VCR RecordingWriter', value: v, unit: 'events/s', vcr: true });
    bar({ group: 'storage append, 100 B events', system: 'Node writeSync loop', value: b, unit: 'events/s' });
  }
}

async function readBench(): Promise<void> {
  const dir = tempDir('read');
  const archive = Archive.open(dir);
  const w = archive.createRecording({ channel: 'bench', source: 'bench:', startUtcNs: 0n, startMonoNs: 0n });
  const payload = Buffer.alloc(1000, 0x62);
  const EVENTS = quick ? 60_000 : 250_000;
  for (let i = 0; i < EVENTS; i++) w.append(payload, 0, payload.length, BigInt(i), BigInt(i));
  w.stop();
  const segs = readdirSync(dir).filter((f) => f.endsWith('.rec')).map((f) => join(dir, f));
  const bytes = w.position;
  const chunk = Buffer.alloc(1024 * 1024);
  let sink = 0;
  const summary = await benny.suite(
    'sequential read, 1000-byte events',
    benny.add('baseline: fs.readSync 1 MiB chunks', () => {
      for (const s of segs) {
        const fd = openSync(s, 'r');
        const size = statSync(s).size;
        for (let at = 0; at < size; at += chunk.length) sink += readSync(fd, chunk, 0, chunk.length, at);
        closeSync(fd);
      }
    }, { minSamples: MIN_SAMPLES, maxTime: MAX_TIME * 2 }),
    benny.add('RecordingReader.poll', () => {
      const r = archive.openReader(w.recordingId);
      const h = (_b: Buffer, _o: number, l: number): void => {
        sink += l;
      };
      while (!r.isDone()) r.poll(h, 10_000);
    }, { minSamples: MIN_SAMPLES, maxTime: MAX_TIME * 2 }),
    benny.cycle(),
  );
  const fileBytes = segs.reduce((n, s) => n + statSync(s).size, 0);
  archive.close();
  rmSync(dir, { recursive: true, force: true });
  const ops = (n: string): number => 1 / summary.results.find((r) => r.name.startsWith(n))!.details.mean;
  const v = (ops('RecordingReader') * bytes) / 1e9;
  const b = (ops('baseline') * fileBytes) / 1e9;
  record({
    bench: BENCH,
    figure: 'sequential read, in-process (RecordingReader)',
    value: v,
    unit: 'GB/s',
    baseline: { name: 'fs.readSync 1 MiB chunks of the same files', value: b },
    targets: [{ op: '>=', value: 1, text: '>= 1 GB/s (issue 3)' }],
  });
  bar({ group: 'storage sequential read, in-process', system: 'VCR RecordingReader', value: v, unit: 'GB/s', vcr: true });
  bar({ group: 'storage sequential read, in-process', system: 'Node readSync 1 MiB', value: b, unit: 'GB/s' });
  if (sink === -1) process.stdout.write('');
}

/** Medians of findPosition and of one 32-byte readSync at random places of what is written so far. */
function seekProbe(archive: Archive, id: number, events: number, dir: string, probes: number, verify: boolean): { seek: number; read: number } {
  const segs = readdirSync(dir).filter((f) => f.startsWith(`${id}-`) && f.endsWith('.rec')).map((f) => join(dir, f));
  const seeks: number[] = [];
  const reads: number[] = [];
  const probe = Buffer.alloc(32);
  let x = 12345 + events;
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
  for (let k = 0; k < probes; k++) {
    const i = rand(events);
    const a = process.hrtime.bigint();
    const p = archive.findPosition(id, 1_000_000n + BigInt(i) * 1000n);
    const b = process.hrtime.bigint();
    seeks.push(Number(b - a) / 1000);
    if (verify && k < 5) {
      const r = archive.openReader(id, { position: p, length: 40 });
      let got = -1;
      r.poll((buf, off) => (got = buf.readUInt32LE(off)), 1);
      if (got !== i) throw new Error(`seek to event ${i} found event ${got} at ${p}`);
    }
    const s = segs[rand(segs.length)]!;
    const size = statSync(s).size;
    const c = process.hrtime.bigint();
    const fd = openSync(s, 'r');
    readSync(fd, probe, 0, 32, rand(Math.max(1, Math.floor(size / 32))) * 32);
    closeSync(fd);
    reads.push(Number(process.hrtime.bigint() - c) / 1000);
  }
  return { seek: median(seeks), read: median(reads) };
}

function seekBench(): void {
  const events = SEEK_EVENTS;
  const checkpoints = [10_000, 100_000, 1_000_000, 10_000_000, 50_000_000].filter((c) => c < events);
  const dir = tempDir('seek');
  try {
    const archive = Archive.open(dir);
    const w = archive.createRecording({ channel: 'bench', source: 'bench:', startUtcNs: 0n, startMonoNs: 0n });
    const id = w.recordingId;
    const payload = Buffer.alloc(8);
    const t0 = process.hrtime.bigint();
    const curve = 'Seek by UTC time vs recording size';
    const at = (n: number, m: { seek: number; read: number }) => {
      point({ curve, series: 'findPosition median (µs)', x: n, xLabel: 'events in the recording', y: m.seek, yLabel: 'median latency, µs', logX: true });
      point({ curve, series: 'one 32-byte readSync (baseline, µs)', x: n, xLabel: 'events in the recording', y: m.read, yLabel: 'median latency, µs', logX: true });
      process.stdout.write(`seek at ${n.toLocaleString('en-US')} events: findPosition ${m.seek.toFixed(2)} µs, readSync ${m.read.toFixed(2)} µs\n`);
    };
    let next = 0;
    for (let i = 0; i < events; i++) {
      payload.writeUInt32LE(i, 0);
      w.append(payload, 0, 8, 1_000_000n + BigInt(i) * 1000n, BigInt(i));
      if (i % 100_000 === 99_999) w.commit();
      if (i + 1 === checkpoints[next]) {
        w.commit();
        at(i + 1, seekProbe(archive, id, i + 1, dir, 2_000, false));
        next++;
      }
    }
    w.stop();
    const fillSec = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(`seek recording: ${events.toLocaleString('en-US')} events, ${(w.position / 2 ** 30).toFixed(2)} GiB, filled in ${fillSec.toFixed(1)} s\n`);
    const m = seekProbe(archive, id, events, dir, SEEK_PROBES, true);
    at(events, m);
    archive.close();
    record({
      bench: BENCH,
      figure: `seek by UTC time, ${(events / 1e6).toLocaleString('en-US')}M-event recording, median`,
      value: m.seek,
      unit: 'µs',
      baseline: { name: 'one 32-byte readSync of the same files', value: m.read },
      targets: [{ op: '<=', value: 50, text: '<= 50 µs in a 50M-event recording (SPEC §4)' }],
      note: events < 50_000_000 ? 'smaller recording than the SPEC names (quick run or --seek-events)' : undefined,
    });
    note(BENCH, `seek: ${SEEK_PROBES.toLocaleString('en-US')} random probes in the final recording, 2,000 at each smaller checkpoint (taken while the recording grows, after a commit)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await appendBench(100, false);
await appendBench(1000, false);
await appendBench(100, true);
await readBench();
seekBench();
printFigures('storage engine, in-process');
process.exit(0);

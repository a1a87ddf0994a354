/**
 * Storage engine speed (issue 3 point 9, SPEC §4), in-process, each figure against a baseline
 * measured in the same run:
 * 1. append of 100-byte and 1000-byte events (Archive writer, commit every 1000 events) vs a
 *    plain `fs.writeSync` append loop writing the same frame bytes one event per call;
 *    target >= 1,000,000 appends/s of 100 bytes.
 * 2. sequential read of a 1000-byte-event recording through RecordingReader vs `fs.readSync`
 *    of the same segment files in 1 MiB chunks (page cache); target >= 1 GB/s.
 * 3. seek by UTC time (findPosition) in a 50M-event recording of 8-byte payloads (~2 GB,
 *    deleted afterwards) vs a single 32-byte `fs.readSync` at a random offset of the same
 *    files; target median <= 50 µs. VCR_BENCH_SEEK_EVENTS overrides the event count.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/storage.bench.js
 */
import { closeSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import benny from 'benny';
import { Archive } from '../src/storage/archive.js';

const BATCH = 10_000;
const fmt = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const rows: [string, number, number, string, boolean | undefined][] = [];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function appendBench(size: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vcr-bench-append-'));
  const archive = Archive.open(dir);
  const w = archive.createRecording({ channel: 'bench', source: 'bench:', startUtcNs: 0n, startMonoNs: 0n });
  const payload = Buffer.alloc(size, 0x61);
  let utc = 1n;
  const frame = Buffer.alloc(32 + size, 0x61);
  const fd = openSync(join(dir, 'baseline.bin'), 'w');
  let filePos = 0;
  const summary = await benny.suite(
    `append ${size}-byte events (${BATCH} per op)`,
    benny.add('baseline: fs.writeSync per event', () => {
      for (let i = 0; i < BATCH; i++) {
        frame.writeBigInt64LE(utc, 8);
        filePos += writeSync(fd, frame, 0, frame.length, filePos);
      }
    }, { minSamples: 5, maxTime: 1 }),
    benny.add('RecordingWriter.append', () => {
      for (let i = 0; i < BATCH; i++) {
        w.append(payload, 0, size, utc++, utc);
        if (i % 1000 === 999) w.commit();
      }
    }, { minSamples: 5, maxTime: 1 }),
    benny.cycle(),
  );
  closeSync(fd);
  w.stop();
  archive.close();
  rmSync(dir, { recursive: true, force: true });
  const ops = (n: string): number => summary.results.find((r) => r.name.startsWith(n))!.ops * BATCH;
  const v = ops('RecordingWriter');
  rows.push([`append ${size} B events/s`, v, ops('baseline'), size === 100 ? '>= 1,000,000/s' : '-', size === 100 ? v >= 1_000_000 : undefined]);
}

async function readBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vcr-bench-read-'));
  const archive = Archive.open(dir);
  const w = archive.createRecording({ channel: 'bench', source: 'bench:', startUtcNs: 0n, startMonoNs: 0n });
  const payload = Buffer.alloc(1000, 0x62);
  const EVENTS = 250_000;
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
    }, { minSamples: 5, maxTime: 2 }),
    benny.add('RecordingReader.poll', () => {
      const r = archive.openReader(w.recordingId);
      const h = (_b: Buffer, _o: number, l: number): void => {
        sink += l;
      };
      while (!r.isDone()) r.poll(h, 10_000);
    }, { minSamples: 5, maxTime: 2 }),
    benny.cycle(),
  );
  const fileBytes = segs.reduce((n, s) => n + statSync(s).size, 0);
  archive.close();
  rmSync(dir, { recursive: true, force: true });
  const ops = (n: string): number => summary.results.find((r) => r.name.startsWith(n))!.ops;
  const v = ops('RecordingReader') * bytes;
  rows.push(['sequential read bytes/s', v, ops('baseline') * fileBytes, '>= 1 GB/s', v >= 1e9]);
  if (sink === -1) process.stdout.write('');
}

function seekBench(): void {
  const events = Number(process.env.VCR_BENCH_SEEK_EVENTS ?? 50_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'vcr-bench-seek-'));
  try {
    const archive = Archive.open(dir);
    const w = archive.createRecording({ channel: 'bench', source: 'bench:', startUtcNs: 0n, startMonoNs: 0n });
    const payload = Buffer.alloc(8);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < events; i++) {
      payload.writeUInt32LE(i, 0);
      w.append(payload, 0, 8, 1_000_000n + BigInt(i) * 1000n, BigInt(i));
      if (i % 100_000 === 99_999) w.commit();
    }
    w.stop();
    const fillSec = Number(process.hrtime.bigint() - t0) / 1e9;
    const segs = readdirSync(dir).filter((f) => f.endsWith('.rec')).map((f) => join(dir, f));
    process.stdout.write(`seek recording: ${fmt(events)} events, ${fmt(w.position / 2 ** 30, 2)} GiB in ${segs.length} segments, filled in ${fmt(fillSec, 1)} s\n`);
    const id = w.recordingId;
    const seeks: number[] = [];
    const reads: number[] = [];
    const probe = Buffer.alloc(32);
    let x = 12345;
    const rand = (n: number): number => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x % n;
    };
    for (let k = 0; k < 20_000; k++) {
      const i = rand(events);
      const a = process.hrtime.bigint();
      const p = archive.findPosition(id, 1_000_000n + BigInt(i) * 1000n);
      const b = process.hrtime.bigint();
      seeks.push(Number(b - a) / 1000);
      if (k < 5) {
        const r = archive.openReader(id, { position: p, length: 40 });
        let got = -1;
        r.poll((buf, off) => (got = buf.readUInt32LE(off)), 1);
        if (got !== i) throw new Error(`seek to event ${i} found event ${got} at ${p}`);
      }
      const s = segs[rand(segs.length)]!;
      const c = process.hrtime.bigint();
      const fd = openSync(s, 'r');
      readSync(fd, probe, 0, 32, rand(1 << 20) * 32);
      closeSync(fd);
      reads.push(Number(process.hrtime.bigint() - c) / 1000);
    }
    archive.close();
    const m = median(seeks);
    rows.push(['seek by time median µs (lower is better)', m, median(reads), '<= 50 µs', m <= 50]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await appendBench(100);
  await appendBench(1000);
  await readBench();
  seekBench();
  process.stdout.write(`\n${'figure'.padEnd(42)}${'value'.padStart(18)}${'baseline'.padStart(18)}${'ratio'.padStart(8)}  target\n`);
  for (const [name, v, b, target, ok] of rows) {
    const verdict = ok === undefined ? '(no target)' : ok ? 'met' : 'NOT met';
    process.stdout.write(`${name.padEnd(42)}${fmt(v, 1).padStart(18)}${fmt(b, 1).padStart(18)}${(v / b).toFixed(2).padStart(8)}  ${target} ${verdict}\n`);
  }
}

await main();

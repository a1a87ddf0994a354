/**
 * Event splitting speed (SPEC §4 "File record: >= 1,000,000 events/s for 100-byte lines").
 *
 * 1. SeparatorSplitter on 100-byte lines fed in 256 KiB chunks, against a baseline of a bare
 *    `buf.indexOf` scan of the same bytes (the floor: no handler, no state).
 * 2. FileSource end to end (async reads of a file in page cache, split, handler per event),
 *    against the baseline of readFileSync + the same indexOf scan.
 * Each figure is events/s; the ratio is figure / baseline from the same run.
 * The end-to-end figure through a real archiver (from `vcr record start` to the recording's
 * stop) is bench/file-ingest.bench.ts; this one isolates the source's own share.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/sources.bench.js [--quick]
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import benny from 'benny';
import { isQuick, printFigures, record } from './lib/results.js';
import { installCleanup, tempDir } from './udp/cleanup.js';
import { FileSource, parseSourceUri, type FileSourceSpec } from '../src/sources/index.js';
import { SeparatorSplitter } from '../src/util/separator.js';

const LINE = 100; // bytes per event including the newline
const EVENTS = 100_000;
const CHUNK = 256 * 1024;
const TARGET = 1_000_000;
const BENCH = 'sources';
const quick = isQuick();
installCleanup(BENCH, quick ? 30_000 : 170_000);

function makeLines(count: number): Buffer {
  const buf = Buffer.alloc(count * LINE);
  for (let i = 0; i < count; i++) {
    const off = i * LINE;
    buf.write(`event ${i} `.padEnd(LINE - 1, 'x'), off, 'latin1');
    buf[off + LINE - 1] = 0x0a;
  }
  return buf;
}

const data = makeLines(EVENTS);
const chunks: Buffer[] = [];
for (let off = 0; off < data.length; off += CHUNK) chunks.push(data.subarray(off, Math.min(off + CHUNK, data.length)));

let sink = 0;
function baselineScan(): number {
  let n = 0;
  for (const c of chunks) {
    let pos = 0;
    for (;;) {
      const j = c.indexOf(0x0a, pos);
      if (j < 0) break;
      n++;
      pos = j + 1;
    }
  }
  return n;
}

const splitter = new SeparatorSplitter(Buffer.from('\n'));
const handler = (_b: Buffer, _o: number, l: number): void => {
  sink += l;
};
function splitAll(): number {
  let n = 0;
  for (const c of chunks) n += splitter.push(c, handler);
  return n + splitter.finish(handler);
}

if (baselineScan() !== EVENTS || splitAll() !== EVENTS) throw new Error('bench input is not what it should be');

async function fileSourceOnce(spec: FileSourceSpec): Promise<number> {
  const src = new FileSource(spec, { chunkSize: CHUNK });
  await src.open();
  const t0 = process.hrtime.bigint();
  let n = 0;
  const h = (): void => {
    n++;
  };
  while (!src.isEnded()) {
    src.poll(h, 100_000);
    if (!src.isEnded()) await new Promise<void>((r) => setImmediate(r));
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  src.close();
  if (n !== EVENTS * 10) throw new Error(`file source saw ${n} events`);
  return n / dt;
}

function readAndScanOnce(path: string): number {
  const t0 = process.hrtime.bigint();
  const buf = readFileSync(path);
  let n = 0;
  let pos = 0;
  for (;;) {
    const j = buf.indexOf(0x0a, pos);
    if (j < 0) break;
    n++;
    pos = j + 1;
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / dt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const summary = await benny.suite(
    'splitter: 100-byte lines',
    benny.add('baseline: buf.indexOf scan', () => baselineScan(), { minSamples: quick ? 3 : 10, maxTime: quick ? 0.3 : 1.5 }),
    benny.add('SeparatorSplitter', () => splitAll(), { minSamples: quick ? 3 : 10, maxTime: quick ? 0.3 : 1.5 }),
    benny.cycle(),
  );
  const opsOf = (name: string): number => 1 / summary.results.find((r) => r.name.startsWith(name))!.details.mean;
  const baseSplit = opsOf('baseline') * EVENTS;
  const split = opsOf('SeparatorSplitter') * EVENTS;

  // End to end through a real file (page cache): 10x the lines, 100 MB.
  const dir = tempDir('sources');
  const path = join(dir, 'lines.log');
  writeFileSync(path, Buffer.concat(Array.from({ length: 10 }, () => data)));
  const spec = parseSourceUri(`file://${path}?separator=%0A`) as FileSourceSpec;
  const fileRates: number[] = [];
  const baseRates: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    baseRates.push(readAndScanOnce(path));
    fileRates.push(await fileSourceOnce(spec));
  }
  rmSync(dir, { recursive: true, force: true });
  const fileRate = median(fileRates);
  const baseFile = median(baseRates);

  const target = [{ op: '>=' as const, value: TARGET, text: '>= 1,000,000 events/s (needed for SPEC §4 file record)' }];
  record({ bench: BENCH, figure: 'SeparatorSplitter, 100 B lines', value: split, unit: 'events/s', baseline: { name: 'bare buf.indexOf scan', value: baseSplit }, targets: target });
  record({
    bench: BENCH,
    figure: 'FileSource in-process (read, split, handler), 100 B lines',
    value: fileRate,
    unit: 'events/s',
    baseline: { name: 'readFileSync + indexOf scan', value: baseFile },
    targets: target,
  });
  printFigures('sources: 100-byte lines');
  if (sink === -1) process.stdout.write('');
}

await main();
process.exit(0);

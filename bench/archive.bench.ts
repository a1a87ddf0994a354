/**
 * Archive tier compression (docs/ARCHIVER.md, "Archive tier: choice of compression"): which
 * node:zlib codec the archive pass uses by default. zstd bindings need prebuilt binaries from
 * GitHub that this network cannot fetch, so the candidates are node:zlib's: raw deflate
 * (levels 1 and 6), gzip 6 and brotli (qualities 1 and 5), and no compression.
 *
 * Data: a real segment written by the storage engine (RecordingWriter, 8 MiB segments) of
 * 200-byte events shaped like recorded market data (a JSON-ish text line with a sequence,
 * a time, a symbol from a small set, prices and sizes that move a little), i.e. frames with
 * their 32-byte headers, as the pass compresses them. Each candidate compresses the segment in
 * 256 KiB blocks (the default block size) and decompresses it again: ratio (segment bytes /
 * compressed bytes), compress MB/s and decompress MB/s of segment bytes, best of the rounds.
 * Last, the whole pass (copy, verify, record, remove) with the default codec, in MB/s.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/archive.bench.js [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Archive } from '../src/storage/archive.js';
import { ArchivePass } from '../src/storage/archive-tier/index.js';
import { compressBlock, decompressBlock } from '../src/storage/archive-tier/block-codec.js';
import { Compression } from '../src/storage/archive-tier/tier-layout.js';
import { argNumber, isQuick, note, printFigures, record } from './lib/results.js';

const BENCH = 'archive';
const SEG = 8 * 1024 * 1024;
const BLOCK = 256 * 1024;
const ROUNDS = argNumber('--rounds', 3, 1);
const SEGMENTS = isQuick() ? 1 : 4;
const MS = 1_000_000n;

const SYMBOLS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA', 'NVDA', 'META', 'NFLX'];

function event(i: number, rnd: () => number): Buffer {
  const sym = SYMBOLS[Math.floor(rnd() * SYMBOLS.length)]!;
  const px = (100 + Math.sin(i / 500) * 5 + rnd()).toFixed(4);
  const qty = Math.floor(rnd() * 1000);
  const line = `{"seq":${i},"t":${1_700_000_000_000 + i},"sym":"${sym}","bid":${px},"ask":${(Number(px) + 0.01).toFixed(4)},"qty":${qty},"venue":"X${qty % 7}","flags":${i % 3}}`;
  const b = Buffer.alloc(200, 0x20);
  b.write(line.slice(0, 200));
  return b;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

const dir = mkdtempSync(join(tmpdir(), 'vcr-bench-archive-'));
const loc = mkdtempSync(join(tmpdir(), 'vcr-bench-cold-'));
try {
  const a = Archive.open(dir, { segmentLength: SEG });
  const w = a.createRecording({ channel: 'md', source: 'bench', startUtcNs: 0n, startMonoNs: 0n });
  const rnd = lcg(42);
  const perSeg = Math.floor(SEG / 232);
  for (let i = 0; i < perSeg * SEGMENTS - 10; i++) {
    const p = event(i, rnd);
    w.append(p, 0, p.length, BigInt(i) * MS, BigInt(i));
  }
  w.stop();
  const seg = a.segmentSource(w.recordingId).get(0) as Buffer;
  const data = Buffer.from(seg);
  const candidates: [string, Compression, number | undefined][] = [
    ['none', Compression.NONE, undefined],
    ['deflate-1', Compression.DEFLATE, 1],
    ['deflate-6', Compression.DEFLATE, 6],
    ['gzip-6', Compression.GZIP, 6],
    ['brotli-1', Compression.BROTLI, 1],
    ['brotli-5', Compression.BROTLI, 5],
  ];
  for (const [name, c, level] of candidates) {
    let bestC = Infinity;
    let bestD = Infinity;
    let packed = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const blocks: Buffer[] = [];
      let t = process.hrtime.bigint();
      for (let off = 0; off < data.length; off += BLOCK) blocks.push(compressBlock(c, data.subarray(off, off + BLOCK), level));
      bestC = Math.min(bestC, Number(process.hrtime.bigint() - t) / 1e9);
      packed = blocks.reduce((n, b) => n + b.length, 0);
      t = process.hrtime.bigint();
      blocks.forEach((b, i) => decompressBlock(c, b, Math.min(BLOCK, data.length - i * BLOCK), name));
      bestD = Math.min(bestD, Number(process.hrtime.bigint() - t) / 1e9);
    }
    const mb = data.length / 1e6;
    record({ bench: BENCH, figure: `${name} ratio`, value: Number((data.length / packed).toFixed(2)), unit: 'x' });
    record({ bench: BENCH, figure: `${name} compress`, value: Math.round(mb / bestC), unit: 'MB/s' });
    record({ bench: BENCH, figure: `${name} decompress`, value: Math.round(mb / bestD), unit: 'MB/s' });
  }
  const pass = new ArchivePass(a, { locationDir: loc, locationId: 'bench', afterAgeMs: 0, compression: 'brotli', blockSize: BLOCK, nowMs: () => Date.now() + 86_400_000 });
  const t = process.hrtime.bigint();
  while (!pass.isDone()) pass.doWork();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const used = Math.min(SEGMENTS * SEG, a.describe(w.recordingId).stopPosition);
  record({ bench: BENCH, figure: 'archive pass (brotli-1, the default: copy, verify, record, remove)', value: Math.round(used / 1e6 / s), unit: 'MB/s', note: `${pass.result.segmentsArchived} segments of 8 MiB, ${pass.blocksDone} block steps` });
  note(BENCH, `segment bytes of 200-byte market-data-like events (232-byte frames), ${BLOCK / 1024} KiB blocks, best of ${ROUNDS} rounds, one core`);
  a.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(loc, { recursive: true, force: true });
}
printFigures('archive tier compression');

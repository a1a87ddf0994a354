/**
 * The segment digest survives deletion: whatever is deleted, in whatever order, each segment's
 * digest recomputed from its frames and deletion log equals the digest sealed when it was
 * written. Also the log's crash cases and what verification reports when frames and log disagree.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { appendDeletionLog, readDeletionLog } from '../../src/storage/deletion-log.js';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import type { SealedSegment } from '../../src/storage/types.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

/** Events of varied sizes (some segments end with padding, some without), utc = i. */
function record(dir: string, sizes: number[]): SealedSegment[] {
  const sealed: SealedSegment[] = [];
  const a = Archive.open(dir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
  const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
  sizes.forEach((size, i) => {
    const p = Buffer.alloc(size, i & 0xff);
    w.append(p, 0, size, BigInt(i), BigInt(i));
    if (i % 64 === 0) a.doWork();
  });
  w.stop();
  a.close();
  return sealed;
}

function summaries(a: Archive): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of a.listSegments(0)) out.set(s.base, a.verifySegment(0, s.base).digest);
  return out;
}

describe('segment digest', () => {
  it('is unchanged by any sequence of deletions, holds included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 50, maxLength: 400 }),
        fc.array(fc.record({ from: fc.nat(420), length: fc.integer({ min: 1, max: 200 }), hold: fc.option(fc.record({ from: fc.nat(420), length: fc.integer({ min: 1, max: 60 }) }), { nil: undefined }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        (sizes, deletions) => {
          const dir = tempDir();
          const sealed = record(dir, sizes);
          const a = Archive.open(dir, { segmentLength: SEG });
          try {
            const before = summaries(a);
            expect([...before.values()]).toEqual(sealed.map((s) => s.digest));
            for (const d of deletions) {
              const holds = d.hold ? [{ fromUtcNs: BigInt(d.hold.from), toUtcNs: BigInt(d.hold.from + d.hold.length) }] : [];
              a.deleteEvents({ fromUtcNs: BigInt(d.from), toUtcNs: BigInt(d.from + d.length), holds });
              expect(summaries(a)).toEqual(before);
            }
          } finally {
            a.close();
          }
          expect(verifyArchive(dir).problems).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('counts a logged frame once when a crash came between the log and the rewrite', () => {
    const dir = tempDir();
    const sealed = record(dir, Array.from({ length: 300 }, (_, i) => (i * 37) % 500));
    const files = new SegmentFiles(dir, 0, SEG);
    const seg = readFileSync(files.path(0));
    // log the first three frames as a deletion would, without rewriting them
    const records = [];
    let off = 0;
    for (let k = 0; k < 3; k++) {
      const length = seg.readInt32LE(off);
      records.push({ position: off, frameLength: length, crc32c: seg.readUInt32LE(off + 24), utcNs: seg.readBigInt64LE(off + 8) });
      off += (length + 7) & ~7;
    }
    expect(appendDeletionLog(files, 0, records)).toBe(3);
    expect(appendDeletionLog(files, 0, records)).toBe(0); // applied again after the crash: nothing repeated
    expect(readDeletionLog(files, 0)).toEqual(records);
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(a.verifySegment(0, 0).digest).toBe(sealed[0]!.digest);
    // the deletion applied for real now: still the same digest
    a.deleteEvents({ fromUtcNs: 0n, toUtcNs: 3n });
    expect(a.verifySegment(0, 0)).toMatchObject({ digest: sealed[0]!.digest, frames: sealed[0]!.frames, end: sealed[0]!.end });
    a.close();
  });

  it('survives a tombstone: the deletion log alone gives the digest', () => {
    const dir = tempDir();
    const sealed = record(dir, Array.from({ length: 500 }, () => 300));
    const a = Archive.open(dir, { segmentLength: SEG });
    a.deleteEvents({ fromUtcNs: 0n, toUtcNs: 195n }); // all of segment 0
    expect(a.listSegments(0)[0]!.state).toBe('tombstone');
    const { digest, frames, end, firstUtcNs, lastUtcNs } = sealed[0]!;
    expect(a.verifySegment(0, 0)).toEqual({ digest, frames, end, firstUtcNs, lastUtcNs });
    a.close();
  });

  it('reports a deleted run the log does not cover, and a damaged frame', () => {
    const dir = tempDir();
    record(dir, Array.from({ length: 300 }, () => 100));
    const a = Archive.open(dir, { segmentLength: SEG });
    a.deleteEvents({ fromUtcNs: 10n, toUtcNs: 20n });
    a.close();
    const files = new SegmentFiles(dir, 0, SEG);
    const log = readFileSync(files.deletionLogPath(0));
    unlinkSync(files.deletionLogPath(0));
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(() => b.verifySegment(0, 0)).toThrowError(expect.objectContaining({ code: ErrorCode.DIGEST_MISMATCH }));
    b.close();
    writeFileSync(files.deletionLogPath(0), log.subarray(0, log.length - 24)); // the last entry lost
    expect(verifyArchive(dir).problems.map((p) => [p.file, p.code])).toEqual([['0-0.dlog', ErrorCode.DIGEST_MISMATCH]]);
    writeFileSync(files.deletionLogPath(0), log);
    const seg = readFileSync(files.path(0));
    seg[40 * 136 + 50] ^= 1; // a payload byte of frame 40
    writeFileSync(files.path(0), seg);
    const c = Archive.open(dir, { segmentLength: SEG });
    expect(() => c.verifySegment(0, 0)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    c.close();
  });
});

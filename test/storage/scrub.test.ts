/**
 * SegmentScrub: the digest check spread over many small steps (the cluster scrubber's unit of
 * work) gives exactly what verifySegment gives, walks no more than its budget per step (plus
 * the one frame it is in), stays right across deletions, and finds a flipped payload byte.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

function recordSegments(dir: string, events: number): Archive {
  const a = Archive.open(dir, { segmentLength: SEG });
  const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
  for (let i = 0; i < events; i++) {
    const p = Buffer.alloc(100 + (i % 300), i & 0xff);
    w.append(p, 0, p.length, BigInt(i), BigInt(i));
    if (i % 64 === 0) a.doWork();
  }
  w.stop();
  a.close();
  return Archive.open(dir, { segmentLength: SEG });
}

/** Runs a scrub to the end in steps of `budget`; returns the summary and the largest step seen. */
function scrubAll(a: Archive, base: number, budget: number): { digest: string; steps: number; maxStep: number } {
  const s = a.scrubSegment(0, base);
  let steps = 0;
  let maxStep = 0;
  for (;;) {
    const before = s.offset;
    const done = s.step(budget);
    maxStep = Math.max(maxStep, s.offset - before);
    steps++;
    if (done) break;
  }
  return { digest: s.summary().digest, steps, maxStep };
}

describe('segment scrub', () => {
  it('gives verifySegment digest in bounded steps, before and after deletions', () => {
    const dir = tempDir();
    const a = recordSegments(dir, 1200);
    try {
      const bases = a.listSegments(0).map((l) => l.base);
      expect(bases.length).toBeGreaterThan(2);
      for (const base of bases) {
        const r = scrubAll(a, base, 4096);
        expect(r.digest).toBe(a.verifySegment(0, base).digest);
        expect(r.maxStep).toBeLessThanOrEqual(4096 + 512); // the budget plus the frame it stopped in
      }
      const sealed = a.listSegments(0)[0]!.base;
      const before = a.verifySegment(0, sealed).digest;
      a.deleteEvents({ fromUtcNs: 10n, toUtcNs: 60n, holds: [] });
      expect(scrubAll(a, sealed, 1000).digest).toBe(before);
      expect(scrubAll(a, sealed, 1000).steps).toBeGreaterThan(10);
    } finally {
      a.close();
    }
  });

  it('finds a flipped payload byte with CORRUPT_SEGMENT', () => {
    const dir = tempDir();
    const a = recordSegments(dir, 600);
    try {
      const file = join(dir, '0-0.rec');
      const fd = openSync(file, 'r+');
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 5000);
      b[0] = b[0]! ^ 0x5a;
      writeSync(fd, b, 0, 1, 5000);
      closeSync(fd);
      let code: unknown;
      try {
        scrubAll(a, 0, 2048);
      } catch (err) {
        code = isVcrError(err) ? err.code : err;
      }
      expect(code).toBe(ErrorCode.CORRUPT_SEGMENT);
    } finally {
      a.close();
    }
  });
});

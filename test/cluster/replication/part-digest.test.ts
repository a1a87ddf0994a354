/**
 * A part's own summary of the frames it checked as they arrived (PartFile.checkedSummary, which
 * installSegment takes instead of reading the part back, docs/REPLICATION.md §5.3): it equals the
 * sealed segment's whatever the batches, survives a restart from the segment's first frame, and
 * is withheld whenever the part holds frames it did not check itself (a file left by an earlier
 * run, a cut at a sealed end) or DELETED frames (the deletion log must be merged by reading).
 */
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cutBatch } from '../../../src/cluster/replication/frame-batch.js';
import { IncomingParts } from '../../../src/cluster/replication/incoming-parts.js';
import { Archive } from '../../../src/storage/archive.js';
import { timeIndexFileName } from '../../../src/storage/layout.js';
import type { SealedSegment } from '../../../src/storage/types.js';
import { removeTempDirs, tempDir } from '../../helpers/wait.js';
import { SEG, eventBytes, utcOf } from './support.js';

afterEach(removeTempDirs);

const R = 1;

function sealedRecording(events: number): { archive: Archive; sealed: SealedSegment[] } {
  const sealed: SealedSegment[] = [];
  const archive = Archive.open(tempDir(), { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
  const w = archive.createRecording({ recordingId: R, channel: 'c', source: 's', startUtcNs: 1n, startMonoNs: 1n });
  for (let i = 0; i < events; i++) {
    const b = eventBytes(i);
    w.append(b, 0, b.length, utcOf(i), BigInt(i));
  }
  w.stop();
  archive.doWork();
  return { archive, sealed };
}

/** The frames of segment `base` as a holder sends them (fetch-server.ts), in batches of about `batch` bytes. */
function batches(archive: Archive, base: number, batch: number): { position: number; bytes: Buffer }[] {
  const out: { position: number; bytes: Buffer }[] = [];
  for (let p = base; p < base + SEG; ) {
    const r = archive.readRawFrames(R, p, batch);
    if (r.bytes.length === 0) break;
    const cut = cutBatch(r.bytes, 0, r.bytes.length, p, base + SEG); // a padding frame goes by its header
    out.push({ position: p, bytes: r.bytes.subarray(0, cut.bytes) });
    p = r.nextPosition;
  }
  return out;
}

function summaryOf(s: SealedSegment) {
  return { digest: s.digest, frames: s.frames, end: s.end, firstUtcNs: s.firstUtcNs, lastUtcNs: s.lastUtcNs };
}

describe('a part’s summary of the frames it checked', () => {
  it('equals the sealed segment’s, in any batches, and again after a restart from the first frame', () => {
    const { archive, sealed } = sealedRecording(3000);
    const parts = new IncomingParts(tempDir());
    for (const s of sealed.slice(0, 2)) {
      const part = parts.open(R, s.base, SEG, 0);
      for (const b of batches(archive, s.base, 7000)) expect(part.append(b.position, b.bytes).status).toBe('ok');
      expect(part.checkedSummary()).toEqual(summaryOf(s));
      part.rewindTo(part.first);
      for (const b of batches(archive, s.base, 1 << 20)) expect(part.append(b.position, b.bytes).status).toBe('ok');
      expect(part.checkedSummary()).toEqual(summaryOf(s));
    }
    archive.close();
  });

  it('gives install the time-index entries of its frames: the installed copy finds every time where the holder does', () => {
    const first = sealedRecording(3000);
    const s1 = first.sealed[1]!;
    first.archive.close();
    const dir = tempDir();
    for (const f of readdirSync(first.archive.dir)) copyFileSync(join(first.archive.dir, f), join(dir, f));
    const archive = Archive.open(first.archive.dir, { segmentLength: SEG });
    const copy = Archive.open(dir, { segmentLength: SEG });
    copy.dropSegment(R, s1.base);
    const part = new IncomingParts(tempDir()).open(R, s1.base, SEG, 0);
    for (const b of batches(archive, s1.base, 50_000)) part.append(b.position, b.bytes);
    const index = part.checkedIndex()!;
    expect(index.count).toBeGreaterThan(SEG / index.stride / 2);
    copy.installSegment(R, s1.base, part.path, s1.digest, { checked: part.checkedSummary(), index });
    for (let i = 0; i < 3000; i += 7) expect(copy.findPosition(R, utcOf(i))).toBe(archive.findPosition(R, utcOf(i)));
    copy.close();
    archive.close();
    // the index written after the install holds the entries the recorder's own index has
    expect(readFileSync(join(dir, timeIndexFileName(R)))).toEqual(readFileSync(join(archive.dir, timeIndexFileName(R))));
  });

  it('is withheld for a part resumed from a file, cut at a sealed end, or holding DELETED frames', () => {
    const { archive, sealed } = sealedRecording(3000);
    const dir = tempDir();
    const s0 = sealed[0]!;
    const [first, ...rest] = batches(archive, 0, 16 * 1024);
    let parts = new IncomingParts(dir);
    let part = parts.open(R, 0, SEG, 0);
    part.append(first!.position, first!.bytes);
    parts.release(part); // the next run finds the file
    parts = new IncomingParts(dir);
    part = parts.open(R, 0, SEG, 0);
    expect(part.next).toBe(first!.position + first!.bytes.length);
    for (const b of rest) part.append(b.position, b.bytes);
    expect(part.complete).toBe(true);
    expect(part.checkedSummary()).toBeUndefined();

    // a part cut back at a frame start (a sealed end below what it holds) no longer matches what it checked
    parts.remove(part);
    part = parts.open(R, 0, SEG, 0);
    for (const b of batches(archive, 0, 16 * 1024)) part.append(b.position, b.bytes);
    expect(part.cutAt(rest[0]!.position)).toBe(true);
    expect(part.checkedSummary()).toBeUndefined();
    parts.remove(part);

    // frames of a segment a deletion rewrote: the deletion log describes the deleted ones
    expect(archive.deleteEvents({ fromUtcNs: utcOf(10), toUtcNs: utcOf(20) }).framesDeleted).toBe(10);
    part = parts.open(R, 0, SEG, 0);
    for (const b of batches(archive, 0, 16 * 1024)) part.append(b.position, b.bytes);
    expect(part.end).toBe(s0.end);
    expect(part.checkedSummary()).toBeUndefined();
    archive.close();
  });
});

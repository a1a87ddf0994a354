/**
 * Deletions that carry the recordings they cover (docs/FORMAT.md, holds.dat): a cluster
 * deletion names its recordings at commit, a single-node delete the ones its channel names at
 * the request. Applied now, after a crash, or to a segment copy installed later, such a
 * deletion touches those recordings only, never another recording of the same channel whose
 * events lie in the interval.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { LocalHolds } from '../../src/storage/stores.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

/** A stopped recording of `channel` with events 0..count-1 stamped UTC 0..count-1 (ns). */
function fill(a: Archive, channel: string, count: number, recordingId?: number): number {
  const w = a.createRecording({ channel, aliases: [`${channel}-alias`], source: 's', startUtcNs: 0n, startMonoNs: 0n, ...(recordingId !== undefined ? { recordingId } : {}) });
  for (let i = 0; i < count; i++) {
    const p = Buffer.alloc(100, i & 0xff);
    p.writeUInt32LE(i, 0);
    w.append(p, 0, p.length, BigInt(i), BigInt(i));
  }
  w.stop();
  return w.recordingId;
}

const kept = (a: Archive, id: number): number[] => collect(a.openReader(id)).map((e) => e.payload.readUInt32LE(0));
const all = (n: number): number[] => [...Array(n).keys()];
const outside = (n: number, from: number, to: number): number[] => all(n).filter((i) => i < from || i >= to);

describe('deletions that name their recordings', () => {
  it('leave a recording they do not name untouched, though its channel and interval match', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const named = fill(a, 'c', 100);
    const other = fill(a, 'c', 100);
    const r = a.deleteEvents({ channel: 'c', fromUtcNs: 10n, toUtcNs: 50n, holds: [], deletionId: 5, recordings: [named] });
    expect(r.framesDeleted).toBe(40);
    expect(kept(a, named)).toEqual(outside(100, 10, 50));
    expect(kept(a, other)).toEqual(all(100));
    a.close();
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listDeletions()).toMatchObject([{ id: 5, external: true, recordings: [named], framesDeleted: 40 }]);
    expect(kept(b, other)).toEqual(all(100));
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('a deletion a crash interrupted is finished at open on the recordings it names only', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const named = fill(a, 'c', 100);
    const later = fill(a, 'c', 100); // e.g. made after the cluster committed the deletion
    a.close();
    // the crash came after the deletion was recorded, before any frame changed
    new LocalHolds(dir).begin({ id: 77, channel: 'c', fromUtcNs: 0n, toUtcNs: 60n, holds: [], recordings: [named] });
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(kept(b, named)).toEqual(outside(100, 0, 60));
    expect(kept(b, later)).toEqual(all(100));
    expect(b.listDeletions()).toMatchObject([{ id: 77, recordings: [named], framesDeleted: 60 }]);
    b.close();
  });

  it('a deletion naming no recording deletes nothing', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = fill(a, 'c', 100);
    expect(a.deleteEvents({ fromUtcNs: 0n, toUtcNs: 100n, holds: [], deletionId: 1, recordings: [] }).framesDeleted).toBe(0);
    expect(kept(a, id)).toEqual(all(100));
    expect(a.listDeletions()).toMatchObject([{ id: 1, recordings: [], framesDeleted: 0 }]);
    a.close();
  });

  it('a segment copy installed later is cut by the applied deletions that name its recording, and only by those', () => {
    // the copy's source: recording 1 of channel c, events 0..99
    const src = tempDir();
    const s = Archive.open(src, { segmentLength: SEG });
    expect(fill(s, 'c', 100, 1)).toBe(1);
    const digest = s.verifySegment(1, 0).digest;
    const descriptor = s.describe(1);
    s.close();
    // this node: recording 0 of channel c; recording 1 known by its descriptor, its segment held elsewhere
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(fill(a, 'c', 100, 0)).toBe(0);
    a.installDescriptor(descriptor);
    a.deleteEvents({ channel: 'c', fromUtcNs: 10n, toUtcNs: 50n, holds: [], deletionId: 9, recordings: [0] });
    a.deleteEvents({ channel: 'c', fromUtcNs: 60n, toUtcNs: 70n, holds: [], deletionId: 10, recordings: [0, 1] });
    expect(kept(a, 0)).toEqual(all(100).filter((i) => i < 10 || (i >= 50 && i < 60) || i >= 70));
    const temp = join(dir, '1-0.rec.install');
    copyFileSync(join(src, '1-0.rec'), temp);
    a.installSegment(1, 0, temp, digest);
    expect(kept(a, 1)).toEqual(outside(100, 60, 70));
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });
});

describe('single-node deletes', () => {
  it('record the recordings their channel (or alias) named at the request, and apply to those', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const c1 = fill(a, 'c', 100);
    const d = fill(a, 'd', 100);
    const c2 = fill(a, 'c', 100);
    expect(a.deleteEvents({ channel: 'c-alias', fromUtcNs: 10n, toUtcNs: 20n }).framesDeleted).toBe(20);
    expect(a.deleteEvents({ fromUtcNs: 90n, toUtcNs: 95n }).framesDeleted).toBe(15);
    expect(a.listDeletions()).toMatchObject([
      { channel: 'c-alias', recordings: [c1, c2], framesDeleted: 20 },
      { recordings: [c1, d, c2], framesDeleted: 15 },
    ]);
    expect(kept(a, d)).toEqual(outside(100, 90, 95));
    a.close();
  });
});

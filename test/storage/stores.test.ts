/**
 * Ids, descriptors and deletions given from outside (a cluster): a recording id chosen by the
 * caller, the descriptor of a recording made elsewhere, and a deletion decided elsewhere with
 * its own id and holds, applied once however often it is asked for, also across a crash.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { LocalHolds } from '../../src/storage/stores.js';
import type { RecordingDescriptor } from '../../src/storage/types.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

function fill(a: Archive, recordingId: number | undefined, count: number): number {
  const w = a.createRecording({ channel: `ch${recordingId ?? 'x'}`, source: 's', startUtcNs: 0n, startMonoNs: 0n, ...(recordingId !== undefined ? { recordingId } : {}) });
  for (let i = 0; i < count; i++) {
    const p = Buffer.alloc(100, i & 0xff);
    p.writeUInt32LE(i, 0);
    w.append(p, 0, p.length, BigInt(i), BigInt(i));
  }
  w.stop();
  return w.recordingId;
}

const kept = (a: Archive, id: number): number[] => collect(a.openReader(id)).map((e) => e.payload.readUInt32LE(0));

describe('ids given by the caller', () => {
  it('creates recordings at the given ids, leaves holes alone, and refuses an id in use', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(fill(a, 5, 10)).toBe(5);
    expect(fill(a, 2, 10)).toBe(2);
    expect(() => fill(a, 5, 1)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    writeFileSync(join(dir, '9.tix'), 'leftover');
    expect(() => fill(a, 9, 1)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => fill(a, -1, 1)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    a.close();
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listRecordings().map((d) => d.recordingId)).toEqual([2, 5]);
    expect(b.damagedRecordings()).toEqual([]);
    expect(kept(b, 5).length).toBe(10);
    expect(fill(b, undefined, 1)).toBe(10); // the local sequence continues past every id with files
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });
});

describe('descriptors of recordings made elsewhere', () => {
  it('installs one whose segments are all away, then updates it', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const d: RecordingDescriptor = {
      recordingId: 3,
      state: 'valid',
      lifecycle: 'recording',
      failureCode: 0,
      startPosition: 0,
      stopPosition: 3 * SEG + 100,
      startUtcNs: 10n,
      stopUtcNs: 20n,
      startMonoNs: 1n,
      stopMonoNs: 2n,
      eventCount: 777,
      segmentLength: SEG,
      cleanStop: false,
      channel: 'elsewhere',
      aliases: ['e'],
      source: 'udp://10.0.0.1:9000',
    };
    a.installDescriptor(d);
    expect(a.describe(3)).toEqual(d);
    expect(a.listSegments(3).map((s) => s.state)).toEqual(['away', 'away', 'away', 'away']);
    expect(a.damage()).toEqual([]);
    expect(() => collect(a.openReader(3))).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_ELSEWHERE }));
    a.installDescriptor({ ...d, lifecycle: 'stopped', cleanStop: true, stopPosition: 5 * SEG, eventCount: 1000 });
    expect(a.describe(3)).toMatchObject({ lifecycle: 'stopped', eventCount: 1000 });
    expect(a.listSegments(3).length).toBe(5);
    expect(a.listSegments(3).every((s) => s.state === 'away')).toBe(true);
    a.close();
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listRecordings({ channel: 'e' }).map((x) => x.recordingId)).toEqual([3]);
    expect(b.damage()).toEqual([]);
    expect(fill(b, undefined, 1)).toBe(4);
    b.close();
  });
});

describe('deletions decided elsewhere', () => {
  it('apply with their own holds, once per deletion id', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = fill(a, undefined, 100);
    a.addQuarantine({ fromUtcNs: 0n, toUtcNs: 100n }); // a local hold the cluster-wide deletion does not know
    const holds = [{ fromUtcNs: 20n, toUtcNs: 30n }];
    const first = a.deleteEvents({ fromUtcNs: 10n, toUtcNs: 50n, holds, deletionId: 1000 });
    expect(first).toMatchObject({ framesDeleted: 30 });
    expect(a.deleteEvents({ fromUtcNs: 10n, toUtcNs: 50n, holds, deletionId: 1000 })).toMatchObject({ framesDeleted: 30, alreadyApplied: true });
    const expected = [...Array(100).keys()].filter((i) => i < 10 || i >= 50 || (i >= 20 && i < 30));
    expect(kept(a, id)).toEqual(expected);
    // a local deletion still respects the local quarantine
    expect(a.deleteEvents({ fromUtcNs: 0n, toUtcNs: 100n }).framesDeleted).toBe(0);
    a.close();
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listDeletions()).toMatchObject([{ id: 1000, external: true, holds, framesDeleted: 30 }, { framesDeleted: 0 }]);
    expect(b.deleteEvents({ fromUtcNs: 10n, toUtcNs: 50n, holds: [], deletionId: 1000 }).alreadyApplied).toBe(true);
    expect(kept(b, id)).toEqual(expected);
    b.close();
  });

  it('a deletion a crash interrupted is finished at open with the holds it was decided with', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = fill(a, undefined, 100);
    a.close();
    // the crash came after the deletion was recorded, before any frame changed
    new LocalHolds(dir).begin({ id: 77, fromUtcNs: 0n, toUtcNs: 60n, holds: [{ fromUtcNs: 40n, toUtcNs: 45n }] });
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(kept(b, id)).toEqual([...Array(100).keys()].filter((i) => i >= 60 || (i >= 40 && i < 45)));
    expect(b.listDeletions()).toMatchObject([{ id: 77, external: true, framesDeleted: 55 }]);
    expect(b.deleteEvents({ fromUtcNs: 0n, toUtcNs: 60n, deletionId: 77 }).alreadyApplied).toBe(true);
    b.close();
  });
});

describe('deletions that leave the segment being written alone (cluster mode)', () => {
  it('rewrites sealed segments only; the live segment keeps its frames until it is sealed and the deletion applies again', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG, deleteSealedSegmentsOnly: true });
    const w = a.createRecording({ channel: 'live', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const n = 1000; // 1000 x 136-byte frames: two segments and part of a third
    for (let i = 0; i < n; i++) {
      const p = Buffer.alloc(100, 1);
      p.writeUInt32LE(i, 0);
      w.append(p, 0, p.length, BigInt(i), BigInt(i));
    }
    w.commit();
    const liveBase = w.segmentBase;
    expect(liveBase).toBeGreaterThan(0);
    const r = a.deleteEvents({ fromUtcNs: 0n, toUtcNs: BigInt(n), holds: [], deletionId: 7 });
    expect(r.framesDeleted).toBeGreaterThan(0);
    const left = collect(a.openReader(w.recordingId));
    expect(left.length).toBe(n - r.framesDeleted);
    expect(left.every((e) => e.position >= liveBase)).toBe(true);
    a.close();
  });
});

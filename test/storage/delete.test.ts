/** Quarantine holds and deletion: what is deleted, what is kept, space reclaimed, restarts. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;
const MS = 1_000_000n;

function diskBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).blocks * 512, 0);
}

function record(a: Archive, channel: string, count: number, offsetNs = 0n, size = 200): number {
  const w = a.createRecording({ channel, aliases: [`${channel}-alias`], source: 's', startUtcNs: 0n, startMonoNs: 0n });
  for (let i = 0; i < count; i++) {
    const p = Buffer.alloc(size, i & 0xff);
    p.writeUInt32LE(i, 0);
    w.append(p, 0, p.length, BigInt(i) * MS + offsetNs, BigInt(i));
  }
  w.stop();
  return w.recordingId;
}

function indices(a: Archive, id: number): number[] {
  return collect(a.openReader(id, { verifyCrc: true })).map((e) => e.payload.readUInt32LE(0));
}

describe('quarantine and delete', () => {
  it('deletes unquarantined events of one channel, reclaims space, and survives a restart', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const ra = record(a, 'a', 6000);
    const rb = record(a, 'b', 1000);
    const hold = a.addQuarantine({ channel: 'a', fromUtcNs: 2000n * MS, toUtcNs: 2100n * MS });
    const before = diskBytes(dir);
    const r = a.deleteEvents({ channel: 'a-alias', fromUtcNs: 500n * MS, toUtcNs: 5500n * MS });
    expect(r.framesDeleted).toBe(5000 - 100);
    const after = diskBytes(dir);
    expect(r.bytesReclaimed).toBeGreaterThan(0.8 * 4900 * 232);
    expect(before - after).toBeGreaterThan(0.8 * 4900 * 232);
    const expected = [...Array(6000).keys()].filter((i) => i < 500 || i >= 5500 || (i >= 2000 && i < 2100));
    expect(indices(a, ra)).toEqual(expected);
    expect(indices(a, rb).length).toBe(1000);
    // seeking into the deleted range lands on the next kept event
    const p = a.findPosition(ra, 700n * MS);
    const first = collect(a.openReader(ra, { position: p }))[0]!;
    expect(first.payload.readUInt32LE(0)).toBe(2000);
    a.close();

    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listQuarantines()).toEqual([{ id: hold, channel: 'a', fromUtcNs: 2000n * MS, toUtcNs: 2100n * MS }]);
    expect(b.listDeletions()).toMatchObject([{ channel: 'a-alias', framesDeleted: 4900 }]);
    expect(indices(b, ra)).toEqual(expected);
    expect(verifyArchive(dir).problems).toEqual([]);
    // a hold blocks deletion until it is removed
    expect(b.deleteEvents({ fromUtcNs: 2000n * MS, toUtcNs: 2100n * MS }).framesDeleted).toBe(0);
    expect(b.removeQuarantine(hold)).toBe(true);
    expect(b.removeQuarantine(hold)).toBe(false);
    expect(b.deleteEvents({ fromUtcNs: 2000n * MS, toUtcNs: 2100n * MS }).framesDeleted).toBe(100);
    expect(indices(b, ra)).toEqual(expected.filter((i) => i < 2000 || i >= 2100));
    expect(indices(b, rb).length).toBe(1000); // b has no events in that interval
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('removes whole segments and keeps a live recording writable', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'live', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const p = Buffer.alloc(1000, 7);
    for (let i = 0; i < 500; i++) w.append(p, 0, p.length, BigInt(i) * MS, 0n);
    w.commit();
    const r = a.deleteEvents({ channel: 'live', fromUtcNs: 0n, toUtcNs: 300n * MS });
    expect(r.framesDeleted).toBe(300);
    expect(readdirSync(dir).filter((f) => f.endsWith('.del')).length).toBeGreaterThanOrEqual(3);
    for (let i = 500; i < 800; i++) w.append(p, 0, p.length, BigInt(i) * MS, 0n);
    w.stop();
    const kept = collect(a.openReader(w.recordingId)).map((e) => Number(e.utcNs / MS));
    expect(kept).toEqual([...Array(500).keys()].map((i) => i + 300));
    expect(a.findPosition(w.recordingId, 0n)).toBe(a.findPosition(w.recordingId, 300n * MS));
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('rejects empty intervals and read-only changes with codes', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(() => a.addQuarantine({ fromUtcNs: 5n, toUtcNs: 5n })).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => a.deleteEvents({ fromUtcNs: 9n, toUtcNs: 1n })).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    a.close();
    const ro = Archive.open(dir, { readOnly: true });
    expect(() => ro.addQuarantine({ fromUtcNs: 1n, toUtcNs: 5n })).toThrowError(expect.objectContaining({ code: ErrorCode.NOT_ALLOWED }));
    ro.close();
  });
});

describe('merged reader', () => {
  it('yields the events of several recordings in an interval in timestamp order, ties by recording id', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const r0 = record(a, 'x', 3000, 0n, 20);
    const r1 = record(a, 'y', 3000, MS / 2n, 20);
    const r2 = record(a, 'z', 3000, 0n, 20); // same times as r0: ties
    const seen: [number, bigint, number][] = [];
    const m = a.openMergedReader([{ recordingId: r2 }, { recordingId: r0 }, { recordingId: r1 }], 1000n * MS, 1010n * MS);
    while (!m.isDone()) m.poll((id, buf, off, _len, _pos, utc) => seen.push([id, utc, buf.readUInt32LE(off)]), 7);
    const expected: [number, bigint, number][] = [];
    for (let i = 1000; i < 1010; i++) {
      expected.push([r0, BigInt(i) * MS, i], [r2, BigInt(i) * MS, i], [r1, BigInt(i) * MS + MS / 2n, i]);
    }
    expect(seen).toEqual(expected);
    a.close();
  });
});

/**
 * Format versions: an archive written by the version-1 engine (fixtures/v1-archive, see its
 * README) opens read-only as it is and is migrated to version 4 at the first writable open;
 * so is a version-2 archive (frames without a source address read as "no source") and a
 * version-3 one (its deletions name no recordings and cover their channel's, as before); a
 * newer version than this engine reads is refused and left untouched.
 */
import { createHash } from 'node:crypto';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CatalogHeaderDecoder, MessageHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { Archive } from '../../src/storage/archive.js';
import { encodeHolds, type HoldsData } from '../../src/storage/holds-file.js';
import { FORMAT_VERSION, HOLDS_CHECKSUM_OFFSET } from '../../src/storage/layout.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { encodeSource, frameSource } from '../../src/util/source-address.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;
const T0 = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;
const fixture = resolve(__dirname, 'fixtures/v1-archive');

function copyFixture(): string {
  const dir = tempDir();
  cpSync(fixture, dir, { recursive: true });
  return dir;
}

function formatVersion(dir: string): number {
  const b = readFileSync(join(dir, 'catalog.dat'));
  return new CatalogHeaderDecoder().wrap(b, 8, CatalogHeaderDecoder.BLOCK_LENGTH, new MessageHeaderDecoder().wrap(b, 0).version()).formatVersion();
}

/** SHA-256 of each file (fast to compare, unlike the buffers themselves). */
function files(dir: string): Map<string, string> {
  return new Map(readdirSync(dir).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
}

const alphaKept = [...Array(300).keys()].filter((i) => i < 100 || i >= 150);

describe('format version 1', () => {
  it('opens read-only as it is', () => {
    const dir = copyFixture();
    const before = files(dir);
    expect(formatVersion(dir)).toBe(1);
    const a = Archive.open(dir, { readOnly: true });
    expect(a.listRecordings().map((d) => [d.recordingId, d.channel, d.eventCount])).toEqual([
      [0, 'alpha', 300],
      [1, 'beta', 50],
    ]);
    expect(collect(a.openReader(0)).map((e) => e.payload.readUInt32LE(0))).toEqual(alphaKept);
    expect(a.listQuarantines()).toEqual([{ id: 1, channel: 'beta', fromUtcNs: T0, toUtcNs: T0 + 10n * MS }]);
    expect(a.listDeletions()).toEqual([{ id: 2, channel: 'alpha', fromUtcNs: T0 + 100n * MS, toUtcNs: T0 + 150n * MS, framesDeleted: 50, bytesReclaimed: 8192 }]);
    a.close();
    expect(files(dir)).toEqual(before);
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('is migrated at the first writable open; its data, holds and deletions carry over', () => {
    const dir = copyFixture();
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(a.openActions()).toEqual([expect.stringMatching(/migrated from format version 1 to 4/)]);
    expect(formatVersion(dir)).toBe(4);
    expect(collect(a.openReader(0)).map((e) => e.payload.readUInt32LE(0))).toEqual(alphaKept);
    expect(collect(a.openReader(1)).map((e) => e.payload.toString())).toEqual([...Array(50).keys()].map((i) => `beta event ${i}`));
    // a version-1 segment without deletions has a digest; one with a version-1 deletion has none
    expect(a.verifySegment(0, SEG).frames).toBeGreaterThan(0);
    expect(a.verifySegment(1, 0).frames).toBe(50);
    expect(() => a.verifySegment(0, 0)).toThrowError(expect.objectContaining({ code: ErrorCode.DIGEST_MISMATCH }));
    // new deletions keep a deletion log from now on
    const digest = a.verifySegment(0, SEG).digest;
    expect(a.deleteEvents({ channel: 'alpha', fromUtcNs: T0 + 290n * MS, toUtcNs: T0 + 295n * MS }).framesDeleted).toBe(5);
    expect(a.verifySegment(0, SEG).digest).toBe(digest);
    expect(a.listDeletions().map((d) => d.id)).toEqual([2, 3]);
    const w = a.createRecording({ channel: 'gamma', source: 's', startUtcNs: T0, startMonoNs: 0n });
    expect(w.recordingId).toBe(2);
    w.stop();
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.openActions()).toEqual([]);
    expect(b.listQuarantines()).toEqual([{ id: 1, channel: 'beta', fromUtcNs: T0, toUtcNs: T0 + 10n * MS }]);
    b.close();
  });
});

describe('a newer format version', () => {
  it('is refused with UNSUPPORTED_FORMAT_VERSION, read-only or not, and nothing is changed', () => {
    const dir = copyFixture();
    const cat = readFileSync(join(dir, 'catalog.dat'));
    cat.writeInt32LE(FORMAT_VERSION + 1, 16); // formatVersion
    writeFileSync(join(dir, 'catalog.dat'), cat);
    const before = files(dir);
    expect(() => Archive.open(dir)).toThrowError(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_FORMAT_VERSION }));
    expect(() => Archive.open(dir, { readOnly: true })).toThrowError(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_FORMAT_VERSION }));
    expect(files(dir)).toEqual(before);
  });
});

/** Makes `dir` (written by this engine) look as the version-2 engine left it: its catalog header says format and schema version 2. */
function downgradeToVersion2(dir: string): void {
  const path = join(dir, 'catalog.dat');
  const cat = readFileSync(path);
  cat.writeUInt16LE(2, 6); // message header: schema version
  cat.writeInt32LE(2, 16); // formatVersion
  writeFileSync(path, cat);
}

describe('format version 2', () => {
  it('reads its frames with no source, is migrated at the first writable open, and records sources from then on', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'old', source: 'udp://127.0.0.1:9000', startUtcNs: T0, startMonoNs: 0n });
    for (let i = 0; i < 20; i++) w.append(Buffer.from(`old ${i}`), 0, `old ${i}`.length, T0 + BigInt(i), BigInt(i)); // frames as version 2 wrote them
    w.stop();
    a.close();
    downgradeToVersion2(dir);
    const before = files(dir);
    const ro = Archive.open(dir, { readOnly: true });
    const seen: [string, number][] = [];
    const r = ro.openReader(0);
    while (!r.isDone()) r.poll((b, o, l, _p, _u, _m, flags) => seen.push([b.toString('latin1', o, o + l), flags]), 100);
    expect(seen).toEqual([...Array(20).keys()].map((i) => [`old ${i}`, 0]));
    ro.close();
    expect(files(dir)).toEqual(before);
    expect(formatVersion(dir)).toBe(2);

    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.openActions()).toEqual([expect.stringMatching(/migrated from format version 2 to 4/)]);
    expect(formatVersion(dir)).toBe(4);
    expect(collect(b.openReader(0)).map((e) => e.payload.toString())).toEqual([...Array(20).keys()].map((i) => `old ${i}`));
    const src = Buffer.alloc(18);
    const flags = encodeSource('10.9.8.7', 6000, src, 0);
    const w2 = b.createRecording({ channel: 'new', source: 'udp://127.0.0.1:9001', startUtcNs: T0, startMonoNs: 0n });
    w2.append(Buffer.from('new'), 0, 3, T0, 0n, flags, src, 0);
    w2.stop();
    const got: unknown[] = [];
    const r2 = b.openReader(w2.recordingId);
    while (!r2.isDone()) r2.poll((buf, o, l, _p, _u, _m, f) => got.push([buf.toString('latin1', o, o + l), frameSource(buf, o, l, f)]), 10);
    expect(got).toEqual([['new', { address: '10.9.8.7', port: 6000 }]]);
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });
});

/** Makes `dir` look as the version-3 engine left it: catalog header format and schema version 3. */
function downgradeToVersion3(dir: string): void {
  const path = join(dir, 'catalog.dat');
  const cat = readFileSync(path);
  cat.writeUInt16LE(3, 6); // message header: schema version
  cat.writeInt32LE(3, 16); // formatVersion
  writeFileSync(path, cat);
}

/**
 * holds.dat as the version-3 engine wrote it: this engine's bytes of deletions that name no
 * recordings without the trailing (empty, 6-byte) deletionRecordings group, header version 3.
 */
function version3Holds(h: HoldsData): Buffer {
  const v4 = encodeHolds(h);
  const b = Buffer.from(v4.subarray(0, v4.length - 6));
  b.writeUInt16LE(3, 6);
  b.writeUInt32LE(0, HOLDS_CHECKSUM_OFFSET);
  b.writeUInt32LE(nativeCrc32c(b), HOLDS_CHECKSUM_OFFSET);
  return b;
}

describe('format version 3', () => {
  it('keeps its deletions by channel (an unfinished one is finished on every recording its channel names), and is migrated at the first writable open', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const ids = ['c', 'd', 'c'].map((channel) => {
      const w = a.createRecording({ channel, source: 's', startUtcNs: T0, startMonoNs: 0n });
      for (let i = 0; i < 100; i++) w.append(Buffer.from(`${channel} ${i}`), 0, `${channel} ${i}`.length, T0 + BigInt(i), BigInt(i));
      w.stop();
      return w.recordingId;
    });
    a.close();
    downgradeToVersion3(dir);
    // a deletion a crash interrupted in the version-3 engine, before any frame changed
    writeFileSync(
      join(dir, 'holds.dat'),
      version3Holds({ nextId: 1, quarantines: [], deletions: [{ id: 40, channel: 'c', fromUtcNs: T0 + 10n, toUtcNs: T0 + 30n, framesDeleted: -1, bytesReclaimed: 0, external: true, holds: [] }] }),
    );
    const before = files(dir);
    const ro = Archive.open(dir, { readOnly: true });
    expect(ro.listDeletions()).toEqual([{ id: 40, channel: 'c', fromUtcNs: T0 + 10n, toUtcNs: T0 + 30n, framesDeleted: -1, bytesReclaimed: 0, external: true, holds: [] }]);
    ro.close();
    expect(files(dir)).toEqual(before);

    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.openActions()).toEqual([expect.stringMatching(/migrated from format version 3 to 4/)]);
    expect(formatVersion(dir)).toBe(4);
    const count = (id: number): number => collect(b.openReader(id)).length;
    expect(ids.map(count)).toEqual([80, 100, 80]);
    expect(b.listDeletions()).toEqual([{ id: 40, channel: 'c', fromUtcNs: T0 + 10n, toUtcNs: T0 + 30n, framesDeleted: 40, bytesReclaimed: expect.any(Number), external: true, holds: [] }]);
    expect(readFileSync(join(dir, 'holds.dat')).readUInt16LE(6)).toBe(4); // rewritten as version 4 when completed
    // a new delete names the recordings its channel names now
    expect(b.deleteEvents({ channel: 'c', fromUtcNs: T0 + 50n, toUtcNs: T0 + 60n }).framesDeleted).toBe(20);
    expect(b.listDeletions()[1]).toMatchObject({ channel: 'c', recordings: [ids[0], ids[2]] });
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });
});

/**
 * The segment seams replication builds on: segment states, sealed-segment notifications with
 * digests, listing, raw frame streaming, install of a verified copy and drop of a local one,
 * and disk usage.
 */
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import type { SealedSegment } from '../../src/storage/types.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;
const MS = 1_000_000n;

function event(i: number, size = 300): Buffer {
  const p = Buffer.alloc(size, i & 0xff);
  p.writeUInt32LE(i, 0);
  return p;
}

/** A stopped recording of `count` events of `size` bytes, utc = i ms; the sealed segments it reported. */
function record(dir: string, count: number, size = 300): { sealed: SealedSegment[]; positions: number[] } {
  const sealed: SealedSegment[] = [];
  const a = Archive.open(dir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
  const w = a.createRecording({ channel: 'radar', source: 's', startUtcNs: 0n, startMonoNs: 0n });
  const positions: number[] = [];
  for (let i = 0; i < count; i++) {
    positions.push(w.append(event(i, size), 0, size, BigInt(i) * MS, BigInt(i)));
    if (i % 50 === 0) a.doWork();
  }
  w.stop();
  a.close();
  return { sealed, positions };
}

describe('sealed segments', () => {
  it('are reported at each roll and at stop, with the digest verifySegment recomputes', () => {
    const dir = tempDir();
    const sealed: SealedSegment[] = [];
    const a = Archive.open(dir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
    const w = a.createRecording({ channel: 'radar', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const positions: number[] = [];
    for (let i = 0; i < 500; i++) {
      positions.push(w.append(event(i), 0, 300, BigInt(i) * MS, BigInt(i)));
      if (i === 100) {
        expect(sealed).toEqual([]);
        expect(a.openSegmentInfo(0)).toEqual({ base: 0, position: w.position });
      }
    }
    // 199 frames of 336 bytes fill a 64 KiB segment: two rolls so far
    expect(sealed.map((s) => [s.base, s.frames, s.end])).toEqual([
      [0, 195, 195 * 336],
      [SEG, 195, SEG + 195 * 336],
    ]);
    expect(a.openSegmentInfo(0)).toEqual({ base: 2 * SEG, position: w.position });
    w.stop();
    expect(a.openSegmentInfo(0)).toBeUndefined();
    expect(sealed.length).toBe(3);
    expect(sealed[2]).toMatchObject({ recordingId: 0, base: 2 * SEG, frames: 110, end: w.position, firstUtcNs: 390n * MS, lastUtcNs: 499n * MS });
    expect(sealed[0]).toMatchObject({ firstUtcNs: 0n, lastUtcNs: 194n * MS });
    for (const s of sealed) {
      expect(s.digest).toMatch(/^[0-9a-f]{64}$/);
      const { digest, frames, end, firstUtcNs, lastUtcNs } = s;
      expect(a.verifySegment(0, s.base)).toEqual({ digest, frames, end, firstUtcNs, lastUtcNs });
    }
    expect(new Set(sealed.map((s) => s.digest)).size).toBe(3);
    a.close();
  });

  it('a listener that throws does not stop the recording', () => {
    const dir = tempDir();
    const a = Archive.open(dir, {
      segmentLength: SEG,
      onSegmentSealed: () => {
        throw new Error('listener bug');
      },
    });
    try {
      const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
      for (let i = 0; i < 300; i++) w.append(event(i), 0, 300, BigInt(i), 0n);
      w.stop();
      expect(collect(a.openReader(0)).length).toBe(300);
    } finally {
      a.close();
    }
  });
});

describe('segment states, listing and drop', () => {
  it('lists present, tombstone, away, missing and truncated segments, and reads each as it must', () => {
    const dir = tempDir();
    const { positions } = record(dir, 1100); // six segments
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(a.listSegments(0).map((s) => s.state)).toEqual(['present', 'present', 'present', 'present', 'present', 'present']);
    expect(a.listSegments(0)[5]).toEqual({ base: 5 * SEG, state: 'present', end: positions[1099]! + 336 });
    a.deleteEvents({ fromUtcNs: 195n * MS, toUtcNs: 390n * MS }); // all of segment 1
    a.dropSegment(0, 2 * SEG);
    a.close();
    unlinkSync(join(dir, `0-${3 * SEG}.rec`));
    truncateSync(join(dir, `0-${4 * SEG}.rec`), 4096);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listSegments(0).map((s) => [s.base / SEG, s.state])).toEqual([
      [0, 'present'],
      [1, 'tombstone'],
      [2, 'away'],
      [3, 'missing'],
      [4, 'truncated'],
      [5, 'present'],
    ]);
    expect(b.damage().map((d) => [d.base / SEG, d.code])).toEqual([
      [3, ErrorCode.SEGMENT_MISSING],
      [4, ErrorCode.SEGMENT_TRUNCATED],
    ]);
    expect(() => collect(b.openReader(0, { position: 2 * SEG }))).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_ELSEWHERE }));
    expect(() => b.findPosition(0, 400n * MS)).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_ELSEWHERE }));
    // the tombstone is skipped; the away segment stops the read with its own code
    const seen: number[] = [];
    const r = b.openReader(0);
    expect(() => {
      while (!r.isDone()) r.poll((buf, off) => seen.push(buf.readUInt32LE(off)), 100);
    }).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_ELSEWHERE }));
    expect(seen).toEqual([...Array(195).keys()]);
    expect(collect(b.openReader(0, { position: 5 * SEG })).length).toBe(1100 - 5 * 195);
    expect(() => b.verifySegment(0, 2 * SEG)).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_ELSEWHERE }));
    expect(() => b.readRawFrames(0, 3 * SEG, 4096)).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_MISSING }));
    b.close();
    const problems = verifyArchive(dir).problems.map((p) => [p.file, p.code]);
    expect(problems).toEqual([
      [`0-${3 * SEG}.rec`, ErrorCode.SEGMENT_MISSING],
      [`0-${4 * SEG}.rec`, ErrorCode.SEGMENT_TRUNCATED],
    ]);
  });

  it('a drop that a crash cut short is finished at open: the away marker wins', () => {
    const dir = tempDir();
    record(dir, 400);
    writeFileSync(join(dir, `0-${SEG}.away`), '');
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(existsSync(join(dir, `0-${SEG}.rec`))).toBe(false);
    expect(b.recoveryActions()[0]!.actions.join(' ')).toMatch(/away marker/);
    expect(b.listSegments(0).map((s) => s.state)).toEqual(['present', 'away', 'present']);
    expect(b.damage()).toEqual([]);
    b.close();
  });

  it('usage counts segment files and their bytes', () => {
    const dir = tempDir();
    record(dir, 400);
    const a = Archive.open(dir, { segmentLength: SEG });
    expect(a.usage()).toEqual({ segments: 3, bytes: 3 * SEG });
    a.dropSegment(0, 0);
    expect(a.usage()).toEqual({ segments: 2, bytes: 2 * SEG });
    a.close();
  });
});

describe('raw frames and install', () => {
  it('streams a segment as stored, whole frames only, never past the live end', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    for (let i = 0; i < 250; i++) w.append(event(i), 0, 300, BigInt(i), 0n);
    // the first segment, in pieces of about 1000 bytes (each a whole number of frames)
    let position = 0;
    const pieces: Buffer[] = [];
    while (position < SEG) {
      const r = a.readRawFrames(0, position, 1000);
      expect(r.bytes.length % 8).toBe(0);
      expect(r.bytes.length <= 1000 || r.bytes.length === SEG - position).toBe(true); // one big padding frame may exceed
      pieces.push(r.bytes);
      position = r.nextPosition;
    }
    expect(position).toBe(SEG);
    const file = readFileSync(join(dir, '0-0.rec'));
    const streamed = Buffer.concat(pieces);
    // 195 frames of 336 bytes: the last 16 bytes are too few for a frame and stay zero
    expect(streamed.length).toBe(195 * 336);
    expect(streamed.equals(file.subarray(0, streamed.length))).toBe(true);
    expect(file.subarray(streamed.length).every((b) => b === 0)).toBe(true);
    // the live segment: up to the writer's position, then nothing more until it grows
    const live = a.readRawFrames(0, SEG, 1 << 20);
    expect(live.nextPosition).toBe(w.position);
    expect(live.bytes.equals(readFileSync(join(dir, `0-${SEG}.rec`)).subarray(0, w.position - SEG))).toBe(true);
    expect(a.readRawFrames(0, w.position, 1 << 20)).toEqual({ bytes: Buffer.alloc(0), nextPosition: w.position });
    expect(() => a.readRawFrames(0, 8, 100)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_POSITION }));
    w.stop();
    a.close();
  });

  it('installs a verified copy in place of an away segment; a copy with another digest is refused', () => {
    const src = tempDir();
    const { sealed } = record(src, 500);
    const dst = tempDir();
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dst, f));
    const b = Archive.open(dst, { segmentLength: SEG });
    b.dropSegment(0, SEG);
    expect(() => b.findPosition(0, 250n * MS)).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_ELSEWHERE }));
    const temp = join(dst, `0-${SEG}.rec.install`);
    // a copy with one flipped payload byte: its digest differs, nothing changes
    const bad = readFileSync(join(src, `0-${SEG}.rec`));
    bad[100] ^= 1;
    writeFileSync(temp, bad);
    expect(() => b.installSegment(0, SEG, temp, sealed[1]!.digest)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    copyFileSync(join(src, `0-${SEG}.rec`), temp);
    expect(() => b.installSegment(0, SEG, temp, sealed[0]!.digest)).toThrowError(expect.objectContaining({ code: ErrorCode.DIGEST_MISMATCH }));
    expect(b.listSegments(0)[1]!.state).toBe('away');
    const summary = b.installSegment(0, SEG, temp, sealed[1]!.digest);
    expect(summary.digest).toBe(sealed[1]!.digest);
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(join(dst, `0-${SEG}.away`))).toBe(false);
    expect(b.listSegments(0).map((s) => s.state)).toEqual(['present', 'present', 'present']);
    expect(collect(b.openReader(0)).map((e) => e.payload.readUInt32LE(0))).toEqual([...Array(500).keys()]);
    expect(b.findPosition(0, 250n * MS)).toBe(b.findPosition(0, 250n * MS - 1n));
    b.close();
    expect(verifyArchive(dst).problems).toEqual([]);
    expect(statSync(join(dst, `0-${SEG}.rec`)).size).toBe(SEG);
  });

  it('installs with the summary its writer computed from frames it CRC-checked, without reading the file back', () => {
    const src = tempDir();
    const { sealed } = record(src, 500);
    const dst = tempDir();
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dst, f));
    const b = Archive.open(dst, { segmentLength: SEG });
    b.dropSegment(0, SEG);
    const s1 = sealed[1]!;
    const checked = { digest: s1.digest, frames: s1.frames, end: s1.end, firstUtcNs: s1.firstUtcNs, lastUtcNs: s1.lastUtcNs };
    const temp = join(dst, `0-${SEG}.rec.install`);
    const flipped = readFileSync(join(src, `0-${SEG}.rec`));
    flipped[100] ^= 1;
    writeFileSync(temp, flipped);
    // a summary that is not the record's is refused as it is, and nothing changes
    expect(() => b.installSegment(0, SEG, temp, s1.digest, { checked: { ...checked, digest: sealed[0]!.digest } })).toThrowError(expect.objectContaining({ code: ErrorCode.DIGEST_MISMATCH }));
    expect(b.listSegments(0)[1]!.state).toBe('away');
    // the summary vouches for the frames as they were written: the file is not read back, so a
    // byte changed on disk since is found by the next verification of the copy, not by install
    expect(b.installSegment(0, SEG, temp, s1.digest, { checked })).toEqual(checked);
    expect(b.listSegments(0)[1]!.state).toBe('present');
    expect(() => b.verifySegment(0, SEG)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    b.close();
  });
});

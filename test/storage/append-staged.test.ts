/**
 * RecordingWriter.appendStaged (the archiver's recording path): frames are encoded into a
 * staging buffer and written to the segment file at commit, first length word last. The
 * frames must be exactly what append() writes (CRC, header, source trailer, padding at
 * segment ends, digests), reach readers at commit and in order with immediate appends, and
 * the segment is never mapped by a writer that only stages (the page faults it saves).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { FrameStatus, checkFrame, frameCrc } from '../../src/storage/frame.js';
import { FrameFlags, FrameOffset, FrameType } from '../../src/storage/layout.js';
import type { SealedSegment } from '../../src/storage/types.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { collect, cleanupTempDirs, payload, tempDir } from './helpers.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

cleanupTempDirs();
const SEG = 64 * 1024;

function mappedSegments(dir: string): string[] {
  return readFileSync('/proc/self/maps', 'latin1')
    .split('\n')
    .filter((l) => l.includes(dir) && l.endsWith('.rec'));
}

describe('RecordingWriter.appendStaged', () => {
  it('writes the frames append() writes: CRC, header, flags, times, source trailer, across segment rolls', () => {
    const dir = tempDir();
    const sealed: SealedSegment[] = [];
    const a = Archive.open(dir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const src = Buffer.alloc(2048);
    for (let i = 0; i < src.length; i++) src[i] = (i * 131 + (i >> 8)) & 0xff;
    const addr = Buffer.from([127, 0, 0, 1, 0x1f, 0x90]);
    const expected: { position: number; bytes: Buffer; flags: number; utc: bigint; mono: bigint }[] = [];
    let n = 0;
    for (let len = 0; len <= 600; len += 1 + (len >> 6)) {
      for (let off = 0; off < 9; off++) {
        const utc = 0x7000_0000_8000_0000n + BigInt(n >> 3) * 0x1_0000_0001n;
        const mono = (BigInt(n >> 2) << 31n) + BigInt(n % 5 === 0 ? n : 0);
        const flags = n % 11 === 0 ? FrameFlags.UNTERMINATED : n % 13 === 0 ? FrameFlags.SOURCE_IPV4 : 0;
        const start = (off * 97 + len) % (src.length - len);
        const position = w.appendStaged(src, start, len, utc, mono, flags, addr, 0);
        expected.push({ position, bytes: Buffer.from(src.subarray(start, start + len)), flags, utc, mono });
        if (n % 37 === 0) w.commit();
        n++;
      }
    }
    w.stop();
    expect(sealed.length).toBeGreaterThan(3);
    for (const e of expected) {
      const base = e.position - (e.position % SEG);
      const seg = readFileSync(join(dir, `0-${base}.rec`));
      const at = e.position - base;
      expect(checkFrame(seg, at, seg.length, true)).toBe(FrameStatus.OK);
      const frameLength = seg.readInt32LE(at);
      expect(frameLength).toBe(32 + e.bytes.length + (e.flags === FrameFlags.SOURCE_IPV4 ? 6 : 0));
      expect(seg.readUInt32LE(at + FrameOffset.CRC)).toBe(frameCrc(seg, at, frameLength, FrameType.DATA) >>> 0);
      expect(seg.readUInt16LE(at + FrameOffset.FLAGS)).toBe(e.flags);
      expect(seg.readBigInt64LE(at + FrameOffset.UTC)).toBe(e.utc);
      expect(seg.readBigInt64LE(at + FrameOffset.MONO)).toBe(e.mono);
      expect(seg.subarray(at + 32, at + 32 + e.bytes.length).equals(e.bytes)).toBe(true);
      // the alignment gap after a frame is zero, as in a segment written through the mapping
      for (let i = at + frameLength; i < at + ((frameLength + 7) & ~7); i++) expect(seg[i]).toBe(0);
    }
    // each sealed digest is what the segment's frames give (padding frames included in the walk)
    for (const s of sealed) expect(a.verifySegment(0, s.base).digest).toBe(s.digest);
    expect(a.describe(0).eventCount).toBe(expected.length);
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(collect(b.openReader(0, { verifyCrc: true })).map((e) => e.position)).toEqual(expected.map((e) => e.position));
    b.close();
  });

  it('hands frames to readers at commit, in order with immediate appends', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const follower = a.openReader(0, { follow: true });
    const seen: number[] = [];
    const poll = () => {
      while (follower.poll((_b, _o, _l, p) => seen.push(p), 100) > 0);
    };
    const pos: number[] = [];
    for (let i = 0; i < 10; i++) pos.push(w.appendStaged(payload(i), 0, payload(i).length, BigInt(i), BigInt(i)));
    poll();
    expect(seen).toEqual([]); // staged, not written yet
    w.commit();
    poll();
    expect(seen).toEqual(pos);
    // an immediate append writes what is staged first
    for (let i = 10; i < 20; i++) pos.push(w.appendStaged(payload(i), 0, payload(i).length, BigInt(i), BigInt(i)));
    pos.push(w.append(payload(20), 0, payload(20).length, 20n, 20n));
    poll();
    expect(seen).toEqual(pos);
    // enough staged to fill the buffer several times and roll segments: written as it fills, all there at commit
    for (let i = 21; i < 3000; i++) pos.push(w.appendStaged(payload(i), 0, payload(i).length, BigInt(i), BigInt(i)));
    w.commit();
    poll();
    expect(seen).toEqual(pos);
    w.stop();
    expect(collect(a.openReader(0, { verifyCrc: true })).map((e) => e.payload.length)).toEqual(pos.map((_p, i) => payload(i).length));
    a.close();
  });

  it('takes a frame larger than its buffer through the mapping, in order', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: 4 * 1024 * 1024 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const big = Buffer.alloc(600 * 1024, 0x5a);
    const small = Buffer.from('small');
    const pos = [
      w.appendStaged(small, 0, small.length, 1n, 1n),
      w.appendStaged(big, 0, big.length, 2n, 2n),
      w.appendStaged(small, 0, small.length, 3n, 3n),
    ];
    w.stop();
    const got = collect(a.openReader(0, { verifyCrc: true }));
    expect(got.map((e) => e.position)).toEqual(pos);
    expect(got.map((e) => e.payload.length)).toEqual([5, big.length, 5]);
    expect(got[1]!.payload.equals(big)).toBe(true);
    a.close();
  });

  it('never maps the segments of a recording that only stages', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const p = Buffer.alloc(100, 0x41);
    for (let i = 0; i < 2000; i++) {
      w.appendStaged(p, 0, p.length, BigInt(i), BigInt(i));
      if (i % 100 === 0) w.commit();
    }
    w.commit();
    expect(w.segmentBase).toBeGreaterThan(0); // rolled at least once
    expect(mappedSegments(dir)).toEqual([]);
    w.append(p, 0, p.length, 9999n, 9999n); // the immediate path maps the current segment
    expect(mappedSegments(dir).length).toBe(1);
    w.stop();
    a.close();
  });

  it('disk full: STORAGE_FULL for that recording, every frame staged before the failure is stored', () => {
    const dir = join(tempDir(), 'mnt');
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    try {
      const a = Archive.open(dir, { segmentLength: 1024 * 1024 });
      const w = a.createRecording({ channel: 'big', source: 's', startUtcNs: 0n, startMonoNs: 0n });
      const event = Buffer.alloc(1000, 0x61);
      let stored = 0;
      let error: unknown;
      for (let i = 0; i < 10_000; i++) {
        try {
          w.appendStaged(event, 0, event.length, BigInt(i), BigInt(i));
          stored++;
          if (i % 50 === 0) w.commit();
        } catch (err) {
          error = err;
          break;
        }
      }
      expect(error).toMatchObject({ code: ErrorCode.STORAGE_FULL });
      expect(w.isFailed).toBe(true);
      expect(() => w.appendStaged(event, 0, 1, 0n, 0n)).toThrowError(expect.objectContaining({ code: ErrorCode.STORAGE_FULL }));
      expect(a.describe(w.recordingId)).toMatchObject({ lifecycle: 'failed', failureCode: ErrorCode.STORAGE_FULL, eventCount: stored });
      const got = collect(a.openReader(w.recordingId, { verifyCrc: true }));
      expect(got.length).toBe(stored);
      a.close();
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  });
});

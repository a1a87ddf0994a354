/**
 * Replica writers: the frames of a recording made on one archive, streamed with readRawFrames
 * and written on another at their exact positions, give byte-identical segments with the same
 * digests; a gap, a foreign position or a damaged frame is refused.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { FrameFlags } from '../../src/storage/layout.js';
import type { ReplicaWriter } from '../../src/storage/replica-writer.js';
import type { SealedSegment } from '../../src/storage/types.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, payload, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

/** Copies every frame the source has past the replica's position, as a replication stream would. */
function pump(src: Archive, replica: ReplicaWriter, maxBytes: number): void {
  let position = replica.position;
  for (;;) {
    const r = src.readRawFrames(replica.recordingId, position, maxBytes);
    if (r.bytes.length === 0 && r.nextPosition === position) return;
    replica.appendFrames(position, r.bytes);
    position = r.nextPosition;
  }
}

describe('replica writer', () => {
  it('follows a live recording; segments and digests end up identical to the recorder’s', () => {
    const srcDir = tempDir();
    const dstDir = tempDir();
    const sealed: SealedSegment[] = [];
    const src = Archive.open(srcDir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
    const dst = Archive.open(dstDir, { segmentLength: SEG });
    const w = src.createRecording({ channel: 'radar', aliases: ['r'], source: 'udp://127.0.0.1:9000', startUtcNs: 5n, startMonoNs: 6n, recordingId: 7 });
    const replica = dst.openReplica(src.describe(7));
    for (let i = 0; i < 1200; i++) {
      const p = payload(i, 2000); // sizes vary: segments end with padding or a short gap
      w.append(p, 0, p.length, 1000n + BigInt(i), BigInt(i), i % 97 === 0 ? FrameFlags.UNTERMINATED : 0);
      if (i % 100 === 99) {
        src.doWork();
        pump(src, replica, 4000);
        dst.doWork();
        expect(collect(dst.openReader(7)).length).toBe(i + 1); // readable on the replica as it grows
      }
    }
    w.stop();
    pump(src, replica, 1 << 20);
    const final = src.describe(7);
    replica.stop(final);
    expect(dst.describe(7)).toMatchObject({ lifecycle: 'stopped', eventCount: 1200, stopPosition: final.stopPosition, stopUtcNs: final.stopUtcNs, channel: 'radar', aliases: ['r'] });
    for (const s of sealed) expect(dst.verifySegment(7, s.base).digest).toBe(s.digest);
    const segs = readdirSync(srcDir).filter((f) => f.endsWith('.rec')).sort();
    expect(readdirSync(dstDir).filter((f) => f.endsWith('.rec')).sort()).toEqual(segs);
    for (const f of segs) expect(readFileSync(join(dstDir, f)).equals(readFileSync(join(srcDir, f)))).toBe(true);
    expect(dst.findPosition(7, 1500n)).toBe(src.findPosition(7, 1500n));
    src.close();
    dst.close();
    expect(verifyArchive(dstDir).problems).toEqual([]);
  });

  it('refuses a gap and a damaged frame, keeping the frames before it', () => {
    const srcDir = tempDir();
    const src = Archive.open(srcDir, { segmentLength: SEG });
    const w = src.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    for (let i = 0; i < 20; i++) w.append(payload(i, 100), 0, payload(i, 100).length, BigInt(i), 0n);
    w.stop();
    const raw = src.readRawFrames(0, 0, 1 << 20).bytes;
    const dst = Archive.open(tempDir(), { segmentLength: SEG });
    const replica = dst.openReplica(src.describe(0));
    expect(() => replica.appendFrames(8, raw)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_POSITION }));
    const frameStarts: number[] = [];
    for (let at = 0; at < raw.length; at += (raw.readInt32LE(at) + 7) & ~7) frameStarts.push(at);
    const bad = Buffer.from(raw);
    bad[frameStarts[5]! + 33] ^= 0x40; // a payload byte of frame 5
    expect(() => replica.appendFrames(0, bad)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    expect(replica.position).toBe(frameStarts[5]);
    expect(() => replica.appendFrames(frameStarts[5]!, raw.subarray(frameStarts[5]!, frameStarts[5]! + 20))).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    replica.appendFrames(frameStarts[5]!, raw.subarray(frameStarts[5]!));
    replica.stop(src.describe(0));
    expect(collect(dst.openReader(0)).length).toBe(20);
    src.close();
    dst.close();
  });

  it('resumes after a crash where its committed frames end', () => {
    const srcDir = tempDir();
    const src = Archive.open(srcDir, { segmentLength: SEG });
    const w = src.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    for (let i = 0; i < 600; i++) w.append(payload(i, 400), 0, payload(i, 400).length, BigInt(i), 0n);
    w.stop();
    const dstDir = tempDir();
    const dst = Archive.open(dstDir, { segmentLength: SEG });
    const replica = dst.openReplica(src.describe(0));
    let position = 0;
    for (let k = 0; k < 3; k++) {
      const r = src.readRawFrames(0, position, 20_000);
      replica.appendFrames(position, r.bytes);
      position = r.nextPosition;
    }
    dst.doWork();
    // "crash": the replica is abandoned without stop, the directory released
    (dst as unknown as { mark: { release(): void } }).mark.release();
    const again = Archive.open(dstDir, { segmentLength: SEG });
    const resumed = again.openReplica(src.describe(0));
    expect(resumed.position).toBeGreaterThan(0);
    pump(src, resumed, 50_000);
    resumed.stop(src.describe(0));
    expect(collect(again.openReader(0)).map((e) => e.payload)).toEqual(collect(src.openReader(0)).map((e) => e.payload));
    for (const s of src.listSegments(0)) expect(again.verifySegment(0, s.base)).toEqual(src.verifySegment(0, s.base));
    src.close();
    again.close();
  });
});

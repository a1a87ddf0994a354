/**
 * The storage seams the data path added (docs/FORMAT.md, "Segment states"): the good prefix of a
 * local segment with its digest (a fence participant's report), a segment's raw deletion log
 * (sent with a fetched copy), the first frame at or after a UTC inside one segment (a holder's
 * FindPosition), and a recording's local segment source (reads put the cache behind it).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Archive } from '../../../src/storage/archive.js';
import { DELETION_LOG_ENTRY_LENGTH, DELETION_LOG_HEADER_LENGTH } from '../../../src/storage/layout.js';
import type { SealedSegment } from '../../../src/storage/types.js';
import { ErrorCode } from '../../../src/util/errors.js';
import { removeTempDirs, tempDir } from '../../helpers/wait.js';
import { SEG, eventBytes, utcOf } from './support.js';

afterEach(removeTempDirs);

function recordingWith(events: number): { archive: Archive; sealed: SealedSegment[]; dir: string; w: ReturnType<Archive['createRecording']> } {
  const dir = tempDir();
  const sealed: SealedSegment[] = [];
  const archive = Archive.open(dir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
  const w = archive.createRecording({ recordingId: 1, channel: 'c', source: 's', startUtcNs: 1n, startMonoNs: 1n });
  for (let i = 0; i < events; i++) {
    const b = eventBytes(i);
    w.append(b, 0, b.length, utcOf(i), BigInt(i));
  }
  archive.doWork();
  return { archive, sealed, dir, w };
}

describe('storage seams of the data path', () => {
  it('segmentPrefix: the end, frames and digest of a segment’s good prefix, and whether it reached the roll', () => {
    const { archive, sealed, w } = recordingWith(3000);
    const s0 = sealed[0]!;
    expect(archive.segmentPrefix(1, 0)).toMatchObject({ end: s0.end, frames: s0.frames, digest: s0.digest, firstUtcNs: s0.firstUtcNs, lastUtcNs: s0.lastUtcNs, complete: true, next: SEG });
    const live = archive.segmentPrefix(1, SEG);
    expect(live).toMatchObject({ end: w.position, complete: false, next: w.position });
    w.stop();
    expect(archive.segmentPrefix(1, SEG).digest).toBe(sealed[1]!.digest);
    archive.close();
  });

  it('segmentPrefix stops at a frame that fails its CRC', () => {
    const { archive, dir, sealed } = recordingWith(3000);
    const raw = archive.readRawFrames(1, 0, 40_000).bytes;
    let at = 0;
    let k = 0;
    while (at + ((raw.readInt32LE(at) + 7) & ~7) < raw.length) {
      at += (raw.readInt32LE(at) + 7) & ~7;
      k++;
    }
    const fd = openSync(join(dir, '1-0.rec'), 'r+');
    writeSync(fd, Buffer.from([0xee]), 0, 1, at + 33); // a payload byte of frame k
    closeSync(fd);
    const p = archive.segmentPrefix(1, 0);
    expect(p.end).toBe(at);
    expect(p.frames).toBe(k);
    expect(p.complete).toBe(false);
    expect(p.digest).not.toBe(sealed[0]!.digest);
    archive.close();
  });

  it('deletionLogBytes: none before a deletion, the raw log after', () => {
    const { archive, w } = recordingWith(3000);
    w.stop();
    expect(archive.deletionLogBytes(1, 0)).toBeUndefined();
    const r = archive.deleteEvents({ fromUtcNs: utcOf(10), toUtcNs: utcOf(20) });
    expect(r.framesDeleted).toBe(10);
    expect(archive.deletionLogBytes(1, 0)!.length).toBe(DELETION_LOG_HEADER_LENGTH + 10 * DELETION_LOG_ENTRY_LENGTH);
    archive.close();
  });

  it('findPositionInSegment: the first frame at or after a time, reading only that segment', () => {
    const { archive, sealed, w } = recordingWith(6000);
    w.stop();
    const inside = 2600; // an event of segment 1
    const expected = archive.findPosition(1, utcOf(inside));
    expect(expected).toBeGreaterThan(SEG);
    expect(expected).toBeLessThan(2 * SEG);
    expect(archive.findPositionInSegment(1, SEG, utcOf(inside))).toBe(expected);
    expect(archive.findPositionInSegment(1, SEG, 0n)).toBe(SEG); // before the segment: its first frame
    expect(archive.findPositionInSegment(1, SEG, utcOf(1_000_000))).toBe(2 * SEG); // after it: its end (past the padding)
    expect(sealed[1]!.base).toBe(SEG);
    // the other segments may be held elsewhere: only this one is read
    archive.dropSegment(1, 0);
    expect(archive.findPositionInSegment(1, SEG, utcOf(inside))).toBe(expected);
    expect(() => archive.findPositionInSegment(1, 12345, 0n)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_POSITION }));
    archive.close();
  });

  it('segmentSource: the mappings readers use', () => {
    const { archive } = recordingWith(3000);
    const src = archive.segmentSource(1);
    expect(src.segmentLength).toBe(SEG);
    expect(Buffer.isBuffer(src.get(0))).toBe(true);
    archive.dropSegment(1, 0);
    expect(src.get(0)).toBe('away');
    archive.close();
  });
});

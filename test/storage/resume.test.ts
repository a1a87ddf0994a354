/**
 * Archive.resumeRecording (used to finish a continuation a crash left half-made,
 * docs/REPLICATION.md §7): a recording already here, stopped or recovered after a crash, takes
 * appends again from its local end; its segments end up as if written in one go (same frames,
 * same digests), and a recording with a live writer is refused.
 */
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import type { SealedSegment } from '../../src/storage/types.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, payload, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;
const TOTAL = 200; // about two segments of payloads up to 1000 bytes
const meta = { channel: 'c', source: 'udp://127.0.0.1:1', startUtcNs: 10n, startMonoNs: 1n, recordingId: 3 };

function appendRange(w: { append(b: Buffer, o: number, l: number, u: bigint, m: bigint): number }, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const p = payload(i, 1000);
    w.append(p, 0, p.length, 100n + BigInt(i), BigInt(i));
  }
}

describe('Archive.resumeRecording', () => {
  it('appends from the local end after a reopen: same frames and segment digests as one writer would give', () => {
    const whole: SealedSegment[] = [];
    const ref = Archive.open(tempDir(), { segmentLength: SEG, onSegmentSealed: (s) => whole.push(s) });
    const rw = ref.createRecording(meta);
    appendRange(rw, 0, TOTAL);
    rw.stop();
    const expected = collect(ref.openReader(3)).map((e) => e.payload.toString('hex'));
    ref.close();

    const dir = tempDir();
    const first = Archive.open(dir, { segmentLength: SEG });
    const w1 = first.createRecording(meta);
    appendRange(w1, 0, 40); // stops inside the first segment
    w1.commit();
    first.close(); // the writer is stopped by close: a clean stop, then a resume
    const sealed: SealedSegment[] = [];
    const again = Archive.open(dir, { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
    const w2 = again.resumeRecording(3);
    expect(() => again.resumeRecording(3)).toThrow(expect.objectContaining({ code: ErrorCode.RECORDING_ACTIVE }) as VcrError);
    expect(w2.snapshot()).toMatchObject({ lifecycle: 'recording', eventCount: 40 });
    appendRange(w2, 40, TOTAL);
    w2.stop();
    expect(again.describe(3)).toMatchObject({ lifecycle: 'stopped', eventCount: TOTAL });
    expect(collect(again.openReader(3)).map((e) => e.payload.toString('hex'))).toEqual(expected);
    // the segment it resumed in and the next are sealed with the digests of the one-go recording
    expect(sealed.map((s) => [s.base, s.frames, s.digest])).toEqual(whole.map((s) => [s.base, s.frames, s.digest]));
    again.close();
  });
});

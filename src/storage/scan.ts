/**
 * Forward scan over a recording's frames, the primitive under recovery, index rebuild and
 * verification. Pure logic over a SegmentSource (mappings or plain buffers in tests): it
 * walks frame by frame from a position and stops at the first frame that is not completely
 * and correctly written.
 */
import { FrameStatus, checkFrame, type FrameStatusValue } from './frame.js';
import { FrameOffset, FrameType, alignFrame } from './layout.js';
import type { SegmentSource } from './segment-cache.js';

export interface ScanResult {
  /** Position after the last good frame: where the recording really ends. */
  end: number;
  dataFrames: number;
  lastUtcNs: bigint | undefined;
  lastMonoNs: bigint | undefined;
  /** Why the scan stopped (NOT_WRITTEN for a clean end; MISSING when a segment is absent). */
  stoppedBy: FrameStatusValue | 'missing' | 'limit';
}

export type ScanVisitor = (type: number, position: number, buf: Buffer, offset: number, length: number) => void;

export function scanForward(
  source: SegmentSource,
  from: number,
  opts: { verifyCrc: boolean; limit?: number; onFrame?: ScanVisitor },
): ScanResult {
  const segLen = source.segmentLength;
  const mask = segLen - 1;
  const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
  let pos = from;
  let dataFrames = 0;
  let lastUtcNs: bigint | undefined;
  let lastMonoNs: bigint | undefined;
  let stoppedBy: ScanResult['stoppedBy'] = 'limit';
  while (pos < limit) {
    const base = pos - (pos & mask);
    const seg = source.get(base);
    if (seg === null) {
      stoppedBy = 'missing';
      break;
    }
    if (seg === 'tombstone') {
      pos = base + segLen;
      continue;
    }
    const off = pos - base;
    const status = checkFrame(seg, off, segLen, opts.verifyCrc);
    if (status === FrameStatus.END_OF_SEGMENT) {
      pos = base + segLen;
      continue;
    }
    if (status !== FrameStatus.OK) {
      stoppedBy = status;
      break;
    }
    const length = seg.readInt32LE(off);
    const type = seg.readUInt16LE(off + FrameOffset.TYPE);
    opts.onFrame?.(type, pos, seg, off, length);
    if (type === FrameType.DATA) {
      dataFrames++;
      lastUtcNs = seg.readBigInt64LE(off + FrameOffset.UTC);
      lastMonoNs = seg.readBigInt64LE(off + FrameOffset.MONO);
    }
    pos += alignFrame(length);
  }
  return { end: pos, dataFrames, lastUtcNs, lastMonoNs, stoppedBy };
}

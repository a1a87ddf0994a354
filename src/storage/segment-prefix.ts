/**
 * The longest prefix of good frames in a segment's bytes: where it ends, whether it reached
 * the segment's end, and its digest. A copy that is still being filled (a replica's temp file,
 * a recorder's open segment, a copy a crash cut short) is described by this prefix: every frame
 * up to it passed its structural check and CRC, and what follows is unwritten or damaged.
 * Replication (docs/REPLICATION.md §5.2, §7) resumes streams at `next` and reports the prefix
 * to a fence.
 */
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import type { DeletionLogRecord } from './deletion-log.js';
import { digestSegment, type SegmentSummary, type Where } from './digest.js';
import { FrameStatus, checkFrame } from './frame.js';
import { FRAME_HEADER_LENGTH, FrameType, alignFrame } from './layout.js';

const header = new EventFrameHeaderDecoder();

export interface GoodPrefix {
  /** position after the last good DATA or DELETED frame (padding excluded); base + from when none */
  end: number;
  /** where the next frame goes: `end`, or the segment's end once the prefix reached it */
  next: number;
  /** the prefix reached the segment's end: a PADDING frame, or fewer bytes left than a frame header */
  complete: boolean;
  /** DATA frames in the prefix */
  dataFrames: number;
  /** UTC of the prefix's last DATA frame (0n when none) */
  lastUtcNs: bigint;
  /** the scan stopped at a frame that failed its checks (not at unwritten bytes) */
  damagedAt: number | undefined;
}

export interface SegmentPrefix extends SegmentSummary {
  next: number;
  complete: boolean;
}

/**
 * Walks the frames of `seg` (a whole segment's bytes) from offset `from` up to position
 * `limit`, checking each frame's structure and CRC, and stops at the first unwritten or bad one.
 */
export function scanGoodPrefix(w: Where, seg: Buffer, from: number, limit = Number.MAX_SAFE_INTEGER): GoodPrefix {
  const segLen = w.segmentLength;
  let off = from;
  let complete = false;
  let dataFrames = 0;
  let lastUtcNs = 0n;
  let damagedAt: number | undefined;
  let end = w.base + from;
  while (w.base + off < limit) {
    const st = checkFrame(seg, off, segLen, true);
    if (st === FrameStatus.END_OF_SEGMENT) {
      complete = true;
      break;
    }
    if (st === FrameStatus.NOT_WRITTEN) break;
    if (st !== FrameStatus.OK) {
      damagedAt = w.base + off;
      break;
    }
    const h = header.wrap(seg, off);
    const type = h.frameType();
    if (type === FrameType.PADDING) {
      complete = true;
      break;
    }
    if (type === FrameType.DATA) {
      dataFrames++;
      lastUtcNs = h.utcNs();
    }
    off += alignFrame(h.frameLength());
    end = w.base + off;
  }
  if (!complete && damagedAt === undefined && segLen - off < FRAME_HEADER_LENGTH) complete = true;
  return { end, next: complete ? w.base + segLen : end, complete, dataFrames, lastUtcNs, damagedAt };
}

/**
 * The summary (digest, frames, times) of the good prefix of `seg`, with the deletion-log
 * records that fall inside it, plus where the prefix ends and whether it is complete.
 */
export function prefixSummary(w: Where, seg: Buffer, from: number, limit: number, log: readonly DeletionLogRecord[]): SegmentPrefix {
  const p = scanGoodPrefix(w, seg, from, limit);
  const summary = digestSegment(w, seg, from, p.end, log.filter((r) => r.position < p.end));
  return { ...summary, end: p.end, next: p.next, complete: p.complete };
}

/**
 * Forward scan over a recording's frames, the primitive under recovery, index rebuild and
 * verification. Pure logic over a SegmentSource (mappings or plain buffers in tests): it
 * walks frame by frame from a position and stops at the first frame that is not completely
 * and correctly written.
 */
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { FrameStatus, checkFrame, type FrameStatusValue } from './frame.js';
import { FrameType, alignFrame } from './layout.js';
import type { SegmentSource, UnavailableState } from './segment-cache.js';

export interface ScanResult {
  /** Position after the last good frame: where the recording really ends. */
  end: number;
  dataFrames: number;
  lastUtcNs: bigint | undefined;
  lastMonoNs: bigint | undefined;
  /** Why the scan stopped: NOT_WRITTEN for a clean end, a segment state when a segment cannot be read. */
  stoppedBy: FrameStatusValue | UnavailableState | 'limit';
}

/** Sees every good frame: its type, position, where it lies, its length and its UTC time. */
export type ScanVisitor = (type: number, position: number, buf: Buffer, offset: number, length: number, utcNs: bigint) => void;

const header = new EventFrameHeaderDecoder();

export function scanForward(
  source: SegmentSource,
  from: number,
  opts: { verifyCrc: boolean; limit?: number; onFrame?: ScanVisitor; skipUnavailable?: boolean },
): ScanResult {
  const segLen = source.segmentLength;
  const mask = segLen - 1;
  const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
  let pos = from;
  let dataFrames = 0;
  let lastUtcNs: bigint | undefined;
  let lastMonoNs: bigint | undefined;
  let stoppedBy: ScanResult['stoppedBy'] = 'limit';
  // skipping unreadable segments needs a bound, or a scan past the last segment never ends
  const skip = opts.skipUnavailable === true && opts.limit !== undefined;
  while (pos < limit) {
    const base = pos - (pos & mask);
    const seg = source.get(base);
    if (seg === 'tombstone' || (typeof seg === 'string' && skip)) {
      pos = base + segLen;
      continue;
    }
    if (typeof seg === 'string') {
      stoppedBy = seg;
      break;
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
    const h = header.wrap(seg, off);
    const length = h.frameLength();
    const type = h.frameType();
    const utcNs = h.utcNs();
    if (type === FrameType.DATA) {
      dataFrames++;
      lastUtcNs = utcNs;
      lastMonoNs = h.monoNs();
    }
    opts.onFrame?.(type, pos, seg, off, length, utcNs);
    pos += alignFrame(length);
  }
  return { end: pos, dataFrames, lastUtcNs, lastMonoNs, stoppedBy };
}

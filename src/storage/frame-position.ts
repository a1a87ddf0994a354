/**
 * Is a position where a frame starts? A read or replay may start only at a frame position (or
 * the end); an aligned position inside an event is a client's mistake (INVALID_POSITION), not
 * damage. The answer costs a walk over at most about one time-index stride of frame headers:
 * from the last index entry at or before the position (entries are frame positions), or from
 * the segment's start (frames never span segments, so a segment starts with a frame). A
 * damaged frame on the way leaves the question open: the position is let through and the read
 * reports the damage it meets (CORRUPT_SEGMENT), as it would from any position.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { FrameStatus, checkFrame } from './frame.js';
import { FrameType, alignFrame } from './layout.js';
import type { SegmentSource } from './segment-cache.js';
import type { TimeIndex } from './time-index.js';

const header = new EventFrameHeaderDecoder();

export interface PositionContext {
  recordingId: number;
  source: SegmentSource;
  index: TimeIndex | undefined;
  startPosition: number;
  endPosition: number;
}

/** Throws INVALID_POSITION unless `position` starts a frame; damage met on the way throws its own code. */
export function checkFramePosition(c: PositionContext, position: number): void {
  const invalid = (): VcrError =>
    new VcrError(ErrorCode.INVALID_POSITION, `position ${position} of recording ${c.recordingId} is not where an event starts`);
  if (position === c.startPosition || position === c.endPosition) return;
  const segLen = c.source.segmentLength;
  const base = position - (position & (segLen - 1));
  const segmentStart = Math.max(base, c.startPosition);
  if (position === segmentStart) return;
  const view = c.source.get(base);
  if (view === 'tombstone') return; // nothing is left to start inside: the reader skips the segment
  if (typeof view === 'string') throw c.source.unavailable(base, view);
  const fromIndex = c.index ? c.index.floorPosition(position) : -1;
  let off = (fromIndex >= segmentStart ? fromIndex : segmentStart) - base;
  const target = position - base;
  while (off < target) {
    const st = checkFrame(view, off, segLen, false);
    if (st === FrameStatus.END_OF_SEGMENT) throw invalid();
    if (st !== FrameStatus.OK) {
      // the index entry may be stale: walk once more from the segment's start
      if (fromIndex > segmentStart) return checkFramePosition({ ...c, index: undefined }, position);
      // damage before the position: the walk cannot tell; the read itself reports what it meets
      return;
    }
    const h = header.wrap(view, off);
    if (h.frameType() === FrameType.PADDING) throw invalid();
    off += alignFrame(h.frameLength());
  }
  if (off !== target) throw invalid();
}

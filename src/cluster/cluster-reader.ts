/**
 * A read of one recording from any node (docs/REPLICATION.md §9). Segments come through a
 * ClusterSegmentSource: the local mapping where this node holds a verified copy (or records
 * the recording), else a local cache of bytes fetched from a node that holds it. Unfetched
 * bytes read as "not written yet", so the reader simply waits for them: `poll` returns 0 and
 * `isDone()` stays false until the recording's end (a stopped recording's stop position in
 * etcd, whatever a disk holds) is reached.
 *
 * Every frame's CRC is checked (a copy served by another node is not trusted blindly), and
 * events of committed deletions are skipped whether or not the serving copy was rewritten yet.
 */
import { FrameCursor } from '../storage/recording-reader.js';
import type { SegmentSource } from '../storage/segment-cache.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import { isHidden, type Interval } from './deletion-filter.js';

export interface ClusterSegmentSource extends SegmentSource {
  /** Bytes of the segment from `position` on are wanted (starts or steers a fetch). */
  want(base: number, position: number): void;
  /** A frame of the segment failed its CRC: drop what was fetched and get it from another holder. */
  corrupt(base: number): void;
  /**
   * Where the data of a sealed segment ends (its record's `end`), undefined while it is open.
   * Bytes between it and the next segment are padding, which a copy fetched to the sealed end
   * does not hold: a reader there moves on to the next segment.
   */
  sealedEnd(base: number): number | undefined;
  close(): void;
}

export interface ClusterRecordingEnd {
  /** Highest position known to hold complete frames now. */
  position(): number;
  /** Frames may still be appended (the recording is live). */
  isLive(): boolean;
}

export type ClusterFrameHandler = (buffer: Buffer, payloadOffset: number, payloadLength: number, position: number, utcNs: bigint, monoNs: bigint, flags: number) => void;

export class ClusterReader {
  private readonly cursor: FrameCursor;
  private readonly limit: number;
  private done = false;
  /** corrupt frames met (each refetched elsewhere) */
  corruptions = 0;

  constructor(
    readonly recordingId: number,
    private readonly source: ClusterSegmentSource,
    private readonly end: ClusterRecordingEnd,
    from: number,
    length: number | undefined,
    private readonly follow: boolean,
    private readonly hidden: () => readonly Interval[],
  ) {
    this.cursor = new FrameCursor(recordingId, source, from, true);
    this.limit = length !== undefined ? from + length : follow ? Number.MAX_SAFE_INTEGER : end.position();
  }

  get position(): number {
    return this.cursor.position;
  }

  isDone(): boolean {
    return this.done;
  }

  poll(handler: ClusterFrameHandler, maxFrames: number): number {
    if (this.done) return 0;
    const c = this.cursor;
    const endPosition = this.end.position();
    const limit = Math.min(this.limit, endPosition);
    const hidden = this.hidden();
    let n = 0;
    while (n < maxFrames) {
      let ok: boolean;
      const before = c.position;
      try {
        ok = c.next(limit);
      } catch (err) {
        if (!isVcrError(err, ErrorCode.CORRUPT_SEGMENT)) throw err;
        // a bad frame in the bytes we were served: get them again from another holder
        const segLen = this.source.segmentLength;
        this.corruptions++;
        this.source.corrupt(before - (before & (segLen - 1)));
        c.position = before;
        c.forget();
        break;
      }
      if (!ok) {
        const segLen = this.source.segmentLength;
        const base = c.position - (c.position & (segLen - 1));
        const sealedEnd = this.source.sealedEnd(base);
        if (sealedEnd !== undefined && c.position >= sealedEnd && base + segLen <= limit) {
          c.position = base + segLen;
          continue;
        }
        break;
      }
      if (hidden.length > 0 && isHidden(hidden, c.utcNs)) continue;
      handler(c.buffer, c.payloadOffset, c.payloadLength, c.framePosition, c.utcNs, c.monoNs, c.flags);
      n++;
    }
    if (n < maxFrames) {
      if (c.position >= this.limit || (!this.end.isLive() && c.position >= endPosition)) this.done = true;
      else if (c.position < limit) {
        const segLen = this.source.segmentLength;
        this.source.want(c.position - (c.position & (segLen - 1)), c.position);
      }
    }
    return n;
  }

  close(): void {
    this.done = true;
    this.source.close();
  }
}

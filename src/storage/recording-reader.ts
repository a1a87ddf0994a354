/**
 * Readers over one recording. A FrameCursor walks DATA frames from a position up to a limit
 * (skipping PADDING, DELETED and deleted segments) and exposes the current frame's fields
 * without allocating an object per event; RecordingReader wraps it in the poll/handler API
 * and can follow a live recording. Frames become visible only once their length (written
 * last) is non-zero, so a reader never sees a partly written frame.
 *
 * The cursor is the read hot path: it reads frame headers with typed-array loads, not
 * through the generated decoder, which measured 17-25 % slower here with real (64-bit)
 * timestamps (docs/FORMAT.md); test/storage/codec-agreement.test.ts reads frames built by the
 * generated encoder with it. Like the writer's CRC it assumes a little-endian host. A frame's
 * source address (a trailer after the payload) is not part of payloadLength; a handler finds
 * it with `frameSource(buffer, payloadOffset, payloadLength, flags)` (src/util/source-address.ts).
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { FrameStatus, checkFrame, framePayloadLength, frameStatusText } from './frame.js';
import { FRAME_HEADER_LENGTH, FrameOffset, FrameType, segmentFileName } from './layout.js';
import type { SegmentSource } from './segment-cache.js';
import type { FrameHandler } from './types.js';
import { SOURCE_FLAGS } from '../util/source-address.js';

/*
 * Header fields as typed-array indexes: length at byte 0, type in the low half of the word at
 * byte 4 and flags in its high half, utc and mono the longs at bytes 8 and 16 of the (8-aligned) frame. Literals in
 * next() because V8 on Node 20 does not fold module constants there: indexes computed from
 * FrameOffset cost 8-13 % of read throughput. They are checked against the offsets derived
 * from the generated codec when this module loads, so a schema change cannot go unnoticed.
 */
if (FrameOffset.LENGTH !== 0 || FrameOffset.TYPE !== 4 || FrameOffset.FLAGS !== 6 || FrameOffset.UTC !== 8 || FrameOffset.MONO !== 16) {
  throw new Error('FrameCursor: the EventFrameHeader layout changed; update its typed-array indexes');
}

/** What a reader needs to know about the recording while it reads. */
export interface RecordingEnd {
  /** Highest position known to hold complete frames now (live: the writer's position). */
  position(): number;
  /** True while frames may still be appended. */
  isLive(): boolean;
}

export class FrameCursor {
  buffer: Buffer = Buffer.alloc(0);
  payloadOffset = 0;
  payloadLength = 0;
  framePosition = 0;
  utcNs = 0n;
  monoNs = 0n;
  /** FrameFlags bits of the current frame. */
  flags = 0;
  private seg: Buffer | null = null;
  private segBase = -1;
  private words: Int32Array = new Int32Array(0);
  private longs: BigInt64Array = new BigInt64Array(0);

  constructor(
    readonly recordingId: number,
    private readonly source: SegmentSource,
    public position: number,
    private readonly verifyCrc: boolean,
  ) {}

  /**
   * Moves to the next DATA frame below `limit`; false when there is none (yet). Throws
   * CORRUPT_SEGMENT naming segment and offset when a frame below `limit` is damaged, and the
   * source's error (SEGMENT_TRUNCATED, SEGMENT_MISSING, SEGMENT_ELSEWHERE) when a segment
   * below `limit` cannot be read here: below the end every segment must be there.
   */
  next(limit: number): boolean {
    const segLen = this.source.segmentLength;
    while (this.position < limit) {
      const pos = this.position;
      const base = pos - (pos & (segLen - 1));
      if (base !== this.segBase || this.seg === null) {
        const view = this.source.get(base);
        if (view === 'tombstone') {
          this.position = base + segLen;
          continue;
        }
        if (typeof view === 'string') throw this.source.unavailable(base, view);
        this.seg = view;
        this.segBase = base;
        this.words = new Int32Array(view.buffer, view.byteOffset, view.length >>> 2);
        this.longs = new BigInt64Array(view.buffer, view.byteOffset, view.length >>> 3);
      }
      const off = pos - base;
      if (segLen - off < FRAME_HEADER_LENGTH) {
        this.position = base + segLen;
        continue;
      }
      const words = this.words;
      const length = words[off >> 2]!;
      if (length === 0) return false;
      const typeAndFlags = words[(off + 4) >> 2]!;
      const type = typeAndFlags & 0xffff;
      if (this.verifyCrc || length < FRAME_HEADER_LENGTH || ((length + 7) & ~7) > segLen - off || type < FrameType.DATA || type > FrameType.DELETED) {
        const status = checkFrame(this.seg, off, segLen, this.verifyCrc);
        if (status !== FrameStatus.OK) throw this.corrupt(base, off, frameStatusText(status));
      }
      if (type === FrameType.PADDING) {
        this.position = base + segLen;
        continue;
      }
      this.position = pos + ((length + 7) & ~7);
      if (type !== FrameType.DATA) continue;
      this.buffer = this.seg;
      this.framePosition = pos;
      const flags = typeAndFlags >>> 16;
      // a source address trailer (flags SOURCE_IPV4 / SOURCE_IPV6) is not payload
      const payloadLength = (flags & SOURCE_FLAGS) === 0 ? length - FRAME_HEADER_LENGTH : framePayloadLength(length, flags);
      if (payloadLength < 0) throw this.corrupt(base, off, frameStatusText(FrameStatus.BAD_SOURCE));
      this.payloadOffset = off + FRAME_HEADER_LENGTH;
      this.payloadLength = payloadLength;
      this.utcNs = this.longs[(off + 8) >> 3]!;
      this.monoNs = this.longs[(off + 16) >> 3]!;
      this.flags = flags;
      return true;
    }
    return false;
  }

  /** Drops the mapping in use: the next frame asks the source again (it may now serve another copy). */
  forget(): void {
    this.seg = null;
    this.segBase = -1;
  }

  corrupt(base: number, off: number, why: string): VcrError {
    return new VcrError(
      ErrorCode.CORRUPT_SEGMENT,
      `recording ${this.recordingId}, segment ${segmentFileName(this.recordingId, base)}, offset ${off}: ${why}`,
    );
  }
}

export const ReaderState = { READING: 0, DONE: 1, CLOSED: 2 } as const;

/** Reads a recording from a position, for a length or to its end, optionally following it. */
export class RecordingReader {
  private readonly cursor: FrameCursor;
  private readonly limit: number;
  private readonly segmentLength: number;
  private state: (typeof ReaderState)[keyof typeof ReaderState] = ReaderState.READING;

  constructor(
    readonly recordingId: number,
    source: SegmentSource,
    private readonly end: RecordingEnd,
    from: number,
    length: number | undefined,
    private readonly follow: boolean,
    verifyCrc = false,
  ) {
    this.cursor = new FrameCursor(recordingId, source, from, verifyCrc);
    this.segmentLength = source.segmentLength;
    if (length !== undefined) this.limit = from + length;
    else this.limit = follow ? Number.MAX_SAFE_INTEGER : end.position();
  }

  /** Next position to read. */
  get position(): number {
    return this.cursor.position;
  }

  isDone(): boolean {
    return this.state !== ReaderState.READING;
  }

  /** Delivers up to `maxFrames` events; returns how many (0 when none are ready). */
  poll(handler: FrameHandler, maxFrames: number): number {
    if (this.state !== ReaderState.READING) return 0;
    const c = this.cursor;
    const live = this.end.isLive();
    const endPosition = this.end.position();
    const limit = Math.min(this.limit, endPosition);
    let n = 0;
    while (n < maxFrames && c.next(limit)) {
      handler(c.buffer, c.payloadOffset, c.payloadLength, c.framePosition, c.utcNs, c.monoNs, c.flags);
      n++;
    }
    if (n < maxFrames) {
      if (c.position >= this.limit || (!live && c.position >= endPosition) || (!this.follow && c.position >= limit)) {
        this.state = ReaderState.DONE;
      } else if (c.position < limit) {
        // below the known end every frame must be there: a gap means damage, not "not yet"
        const segLen = this.segmentLength;
        const base = c.position - (c.position & (segLen - 1));
        this.state = ReaderState.DONE;
        throw c.corrupt(base, c.position - base, 'frame not written before the end of the recording');
      }
    }
    return n;
  }

  close(): void {
    this.state = ReaderState.CLOSED;
  }
}

/**
 * Walks the frames of one segment a piece at a time and adds up what its digest is made of
 * (docs/FORMAT.md, "Segment digest"), so that an archive pass can check a segment, and then
 * its archived copy, a block per duty cycle instead of a whole segment at once. The bytes come
 * in windows: `walk(buf, bufOffset, stopBefore)` takes `buf` as the segment bytes from offset
 * `bufOffset` on and handles every frame that starts before `stopBefore` and lies whole inside
 * `buf`; a frame cut by the window's end waits for the next window. Every frame's structure
 * and CRC is checked (CORRUPT_SEGMENT naming the offset).
 *
 * `finish(log)` merges the deletion log as verifySegment does (a log entry whose frame is still
 * DATA counts once) and gives the same SegmentSummary; test/storage/archive-tier.test.ts checks
 * that it equals Archive.verifySegment's. `dataLength` is where the stored bytes end: after the
 * last frame (with a PADDING frame's header); the rest of the segment is zeros.
 */
import { EventFrameHeaderDecoder } from '../../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { DeletionLogRecord } from '../deletion-log.js';
import { SegmentDigest, type SegmentSummary } from '../digest.js';
import { FrameStatus, checkFrame, frameStatusText } from '../frame.js';
import { FRAME_HEADER_LENGTH, FrameType, alignFrame, segmentFileName } from '../layout.js';

const header = new EventFrameHeaderDecoder();

export class SegmentWalker {
  /** Segment offset of the next frame. */
  offset: number;
  /** True once the last frame was seen (unwritten frame, padding, segment end or limit). */
  done = false;
  /** Stored bytes from the segment's start (valid once done). */
  dataLength = 0;
  /** Position after the last DATA or DELETED frame (the digest's end). */
  private endOffset: number;
  private readonly records: DeletionLogRecord[] = [];

  constructor(
    readonly recordingId: number,
    readonly base: number,
    readonly segmentLength: number,
    from: number,
    /** Position the frames end at (the recording's end); frames at or past it are not read. */
    private readonly limit: number,
  ) {
    this.offset = from;
    this.endOffset = from;
  }

  /** Handles the frames starting before `stopBefore` that `buf` (segment bytes from `bufOffset`) holds whole. */
  walk(buf: Buffer, bufOffset: number, stopBefore: number): void {
    const segLen = this.segmentLength;
    while (!this.done && this.offset < stopBefore) {
      const off = this.offset;
      if (this.base + off >= this.limit || segLen - off < FRAME_HEADER_LENGTH) {
        this.end(off);
        return;
      }
      const local = off - bufOffset;
      if (buf.length - local < FRAME_HEADER_LENGTH) return; // header cut by the window
      const length = buf.readInt32LE(local);
      if (length === 0) {
        this.end(off);
        return;
      }
      const padding = buf.readUInt16LE(local + 4) === FrameType.PADDING; // its body is zeros, not stored
      if (!padding && length >= FRAME_HEADER_LENGTH && alignFrame(length) <= segLen - off && local + length > buf.length) return; // body cut by the window
      const st = checkFrame(buf, local, segLen - bufOffset, true);
      if (st !== FrameStatus.OK) {
        throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `recording ${this.recordingId}, segment ${segmentFileName(this.recordingId, this.base)}, offset ${off}: ${frameStatusText(st)}`);
      }
      const h = header.wrap(buf, local);
      const type = h.frameType();
      if (type === FrameType.PADDING) {
        this.end(off + FRAME_HEADER_LENGTH);
        return;
      }
      if (type === FrameType.DATA) this.records.push({ position: this.base + off, frameLength: length, crc32c: h.crc32c(), utcNs: h.utcNs() });
      this.offset = off + alignFrame(length);
      this.endOffset = this.offset;
    }
  }

  private end(dataLength: number): void {
    this.done = true;
    this.dataLength = dataLength;
  }

  /** The segment's summary, with its deletion log merged (the walk must be done). */
  finish(log: readonly DeletionLogRecord[]): SegmentSummary {
    const at = new Map<number, DeletionLogRecord>();
    for (const r of this.records) at.set(r.position, r);
    for (const r of log) {
      const still = at.get(r.position);
      if (still && (still.frameLength !== r.frameLength || still.crc32c !== r.crc32c)) {
        throw new VcrError(ErrorCode.DIGEST_MISMATCH, `recording ${this.recordingId}, segment ${segmentFileName(this.recordingId, this.base)}, offset ${r.position - this.base}: the deletion log disagrees with the DATA frame there`);
      }
      if (!still) at.set(r.position, r);
    }
    const all = [...at.values()].sort((a, b) => a.position - b.position);
    const d = new SegmentDigest();
    for (const r of all) d.add(r.position, r.frameLength, r.crc32c);
    return d.finish(this.base + this.endOffset, all[0]?.utcNs ?? 0n, all[all.length - 1]?.utcNs ?? 0n);
  }
}

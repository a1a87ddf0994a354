/**
 * Walking whole storage frames in a batch of bytes as they travel between nodes: DATA and
 * DELETED frames whole (with their alignment), a PADDING frame by its header alone (its body
 * is zeros up to the segment's end, which every copy file already holds). Both ends of the
 * data path use it: a sender cuts what `Archive.readRawFrames` returned (at a limit, before a
 * frame it must not send, padding body dropped), a receiver checks every frame (structure,
 * CRC) before it stores any of it. Positions are absolute; `segmentEnd` is the end of the
 * segment the frames belong to.
 */
import { EventFrameHeaderDecoder } from '../../../codecs/generated/storage/index.js';
import { FrameStatus, checkFrame, frameCrc } from '../../storage/frame.js';
import { FRAME_HEADER_LENGTH, FrameType, alignFrame } from '../../storage/layout.js';

const header = new EventFrameHeaderDecoder();

export const BatchStatus = {
  /** every frame of the batch is whole and checks */
  OK: 'ok',
  /** a frame's structure is wrong (length, type, cut off, padding not reaching the segment end) */
  MALFORMED: 'malformed',
  /** a frame's CRC32C does not match its bytes */
  BAD_CRC: 'bad-crc',
} as const;
export type BatchStatus = (typeof BatchStatus)[keyof typeof BatchStatus];

export interface BatchCheck {
  status: BatchStatus;
  /** bytes of the good frames from the batch start (the bad frame, if any, starts there) */
  goodBytes: number;
  /** position after the last good DATA or DELETED frame (padding excluded); the start position when none */
  end: number;
  /** the good frames end with a PADDING frame, or leave fewer bytes than a frame header in the segment */
  complete: boolean;
  dataFrames: number;
  /** UTC of the last good DATA frame (0n when none) */
  lastUtcNs: bigint;
}

/**
 * Checks the frames of `bytes[offset, offset + length)` that start at `position` (a frame
 * position of a segment ending at `segmentEnd`), up to the first bad one. CRCs are checked for
 * every frame type, as the storage replica writer does.
 */
export function checkBatch(bytes: Buffer, offset: number, length: number, position: number, segmentEnd: number): BatchCheck {
  const stop = offset + length;
  let at = offset;
  let pos = position;
  let end = position;
  let complete = false;
  let dataFrames = 0;
  let lastUtcNs = 0n;
  let status: BatchStatus = BatchStatus.OK;
  while (at < stop) {
    const room = segmentEnd - pos;
    if (room < FRAME_HEADER_LENGTH || stop - at < FRAME_HEADER_LENGTH) {
      status = BatchStatus.MALFORMED;
      break;
    }
    const h = header.wrap(bytes, at);
    const frameLength = h.frameLength();
    const type = h.frameType();
    if (type === FrameType.PADDING) {
      // the header alone: it must reach the segment's end exactly
      if (frameLength !== room) {
        status = BatchStatus.MALFORMED;
        break;
      }
      if (frameCrc(bytes, at, frameLength, type) !== h.crc32c()) {
        status = BatchStatus.BAD_CRC;
        break;
      }
      at += FRAME_HEADER_LENGTH;
      complete = true;
      break;
    }
    const st = checkFrame(bytes, at, at + Math.min(room, stop - at), false);
    if (st !== FrameStatus.OK) {
      status = BatchStatus.MALFORMED;
      break;
    }
    const size = alignFrame(frameLength);
    if (frameCrc(bytes, at, frameLength, type) !== h.crc32c()) {
      status = BatchStatus.BAD_CRC;
      break;
    }
    at += size;
    pos += size;
    end = pos;
    if (type === FrameType.DATA) {
      dataFrames++;
      lastUtcNs = h.utcNs();
    }
    if (segmentEnd - pos < FRAME_HEADER_LENGTH) {
      complete = true;
      break;
    }
  }
  if (complete && status === BatchStatus.OK && at < stop) status = BatchStatus.MALFORMED; // bytes past the segment's end
  return { status, goodBytes: at - offset, end, complete, dataFrames, lastUtcNs };
}

/**
 * What a sender may send of `bytes[offset, offset + length)` (frames starting at `position`, as
 * `readRawFrames` returned them, up to a segment ending at `segmentEnd`): frames starting below
 * `limit`, plus a PADDING frame starting at or below it (it rolls the segment: a copy needs it
 * to be read through) by its header only, and nothing from the first frame of a type in
 * `stopAt` on. Returns the bytes to send from `offset` and the position after them (the
 * segment's end after a padding). Frames are trusted (the sender's own storage checked them).
 */
export function cutBatch(
  bytes: Buffer,
  offset: number,
  length: number,
  position: number,
  segmentEnd: number,
  limit = Number.MAX_SAFE_INTEGER,
  stopAt: ReadonlySet<number> = NONE,
): { bytes: number; next: number } {
  const stop = offset + length;
  let at = offset;
  let pos = position;
  while (at + FRAME_HEADER_LENGTH <= stop) {
    const h = header.wrap(bytes, at);
    const type = h.frameType();
    if (stopAt.has(type)) break;
    if (type === FrameType.PADDING) {
      if (pos > limit) break;
      at += FRAME_HEADER_LENGTH;
      pos = segmentEnd;
      break;
    }
    if (pos >= limit) break;
    const size = alignFrame(h.frameLength());
    if (size < FRAME_HEADER_LENGTH || at + size > stop) break;
    at += size;
    pos += size;
  }
  return { bytes: at - offset, next: pos };
}

const NONE: ReadonlySet<number> = new Set();
export const DELETED_FRAMES: ReadonlySet<number> = new Set([FrameType.DELETED]);

/** Bytes at the head of `bytes` (frames starting at `position`) to skip to reach `target`, or -1 when no frame starts there. */
export function skipTo(bytes: Buffer, offset: number, length: number, position: number, target: number): number {
  let at = offset;
  let pos = position;
  const stop = offset + length;
  while (pos < target) {
    if (at + FRAME_HEADER_LENGTH > stop) return pos === target ? at - offset : -1;
    const h = header.wrap(bytes, at);
    const frameLength = h.frameLength();
    if (frameLength < FRAME_HEADER_LENGTH) return -1;
    if (h.frameType() === FrameType.PADDING) {
      at += FRAME_HEADER_LENGTH;
      pos += frameLength;
      continue;
    }
    const size = alignFrame(frameLength);
    at += size;
    pos += size;
  }
  return pos === target ? at - offset : -1;
}

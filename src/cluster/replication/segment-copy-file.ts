/**
 * A file of one segment's length into which whole frames received from another node are
 * written at their offsets: the `.part` copy a receiver or fetcher fills (replaced into the
 * archive by `installSegment` once its digest verifies), or a read-cache file (§9). Frames are
 * taken only contiguously from `next` (where the next frame goes), and only after every frame
 * of the batch checked (structure and CRC): a bad frame is never stored, the frames before it
 * are. Written with pwrite, never through a writable mapping, so a full disk is an error and
 * not a SIGBUS.
 *
 * Single-threaded (the duty cycle): a reader of the cache file through a mapping never runs
 * while a batch is being written, so it sees whole frames or zeros ("not written yet").
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { storageError, writeFully } from '../../storage/io-errors.js';
import { writeHeaderOnlyFrame } from '../../storage/frame.js';
import { FRAME_HEADER_LENGTH, FrameType } from '../../storage/layout.js';
import { mapFile } from '../../storage/segment-files.js';
import { BatchStatus, checkBatch, skipTo } from './frame-batch.js';

export const AppendStatus = {
  OK: 'ok',
  /** the batch starts past `next`: frames are missing in between (nothing stored) */
  GAP: 'gap',
  /** the batch starts before `next` and no frame of it starts at `next` (the copies differ) */
  MISMATCH: 'mismatch',
  MALFORMED: BatchStatus.MALFORMED,
  BAD_CRC: BatchStatus.BAD_CRC,
} as const;
export type AppendStatus = (typeof AppendStatus)[keyof typeof AppendStatus];

const ZEROS = Buffer.alloc(1024 * 1024);

export class SegmentCopyFile {
  /** where the next frame goes (the segment's end once complete) */
  next: number;
  /** after the last DATA or DELETED frame written (padding excluded) */
  end: number;
  /** the copy reached the segment's end (a PADDING frame, or fewer bytes left than a frame header) */
  complete = false;
  /** UTC of the last DATA frame written (0n when none since the last reset) */
  lastUtcNs = 0n;
  /** bytes written since this object was made */
  bytesWritten = 0;
  protected fd: number;
  private mapping: Buffer | undefined;

  constructor(
    readonly path: string,
    readonly recordingId: number,
    readonly base: number,
    readonly segmentLength: number,
    /** the first frame position of this copy (base, or the recording's start inside its first segment) */
    readonly first: number,
    fd: number,
  ) {
    this.fd = fd;
    this.next = first;
    this.end = first;
  }

  get segmentEnd(): number {
    return this.base + this.segmentLength;
  }

  /** A read-only shared mapping of the whole file (sees every write made since). */
  map(): Buffer {
    this.mapping ??= mapFile(this.fd, this.segmentLength, false);
    return this.mapping;
  }

  /**
   * Stores the frames of `bytes[offset, offset + length)` that start at `position`. Frames
   * before `next` are skipped (a resent prefix), frames from the first bad one on are not
   * stored. Returns the status and the bytes stored.
   */
  append(position: number, bytes: Buffer, offset = 0, length = bytes.length - offset): { status: AppendStatus; stored: number } {
    if (position > this.next) return { status: AppendStatus.GAP, stored: 0 };
    if (position < this.next) {
      const skip = skipTo(bytes, offset, length, position, this.next);
      if (skip < 0) return { status: AppendStatus.MISMATCH, stored: 0 };
      offset += skip;
      length -= skip;
      position = this.next;
    }
    if (length === 0) return { status: AppendStatus.OK, stored: 0 };
    if (this.complete) return { status: AppendStatus.MALFORMED, stored: 0 };
    const c = checkBatch(bytes, offset, length, position, this.segmentEnd);
    if (c.goodBytes > 0) {
      try {
        writeFully(this.fd, bytes, offset, c.goodBytes, position - this.base);
      } catch (err) {
        throw storageError(err, `cannot write ${this.path}`);
      }
      this.bytesWritten += c.goodBytes;
      this.stored(bytes, offset, c.goodBytes, position);
      this.end = c.end;
      this.next = c.complete ? this.segmentEnd : position + c.goodBytes;
      this.complete = c.complete;
      if (c.dataFrames > 0) this.lastUtcNs = c.lastUtcNs;
    }
    return { status: c.status, stored: c.goodBytes };
  }

  /** Frames just checked and written (`bytes[offset, offset + length)`, from `position`): a part feeds its digest. */
  protected stored(_bytes: Buffer, _offset: number, _length: number, _position: number): void {
    // a read cache keeps no digest
  }

  /**
   * Ends the file at `next` with one PADDING frame to the segment's end: what a read cache
   * holds of a segment whose every frame was deleted on its holder (a tombstone there), so a
   * reader waiting at `next` moves on to the next segment. Never used for a copy.
   */
  endWithPadding(): void {
    if (this.complete) return;
    const header = Buffer.alloc(FRAME_HEADER_LENGTH);
    writeHeaderOnlyFrame(header, 0, this.segmentEnd - this.next, FrameType.PADDING, 0n, 0n);
    try {
      writeFully(this.fd, header, 0, header.length, this.next - this.base);
    } catch (err) {
      throw storageError(err, `cannot write ${this.path}`);
    }
    this.next = this.segmentEnd;
    this.complete = true;
  }

  /** Zeros what was written from `from` on and continues there (a restart, or a cut at a sealed end). */
  rewindTo(from: number): void {
    const stop = this.complete ? this.segmentEnd : this.next;
    for (let at = from; at < stop; ) {
      const n = Math.min(ZEROS.length, stop - at);
      try {
        writeFully(this.fd, ZEROS, 0, n, at - this.base);
      } catch (err) {
        throw storageError(err, `cannot write ${this.path}`);
      }
      at += n;
    }
    this.next = from;
    this.end = Math.min(this.end, from);
    this.complete = this.segmentEnd - from < FRAME_HEADER_LENGTH;
  }

  /** Continues at `position` (a frame start) without touching the bytes: a new range of a read cache. */
  moveTo(position: number): void {
    this.next = position;
    this.end = position;
    this.complete = this.segmentEnd - position < FRAME_HEADER_LENGTH;
  }

  sync(): void {
    try {
      fsyncSync(this.fd);
    } catch (err) {
      throw storageError(err, `cannot sync ${this.path}`);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
    this.mapping = undefined;
  }
}

export function openForWrite(path: string): number {
  try {
    return openSync(path, 'r+');
  } catch (err) {
    throw storageError(err, `cannot open ${path}`);
  }
}

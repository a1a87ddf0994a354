/**
 * Writes the archived copy of one sealed segment, a block per `step()` (so an archive pass
 * never compresses a whole segment in one duty cycle): each step walks the frames of the next
 * block (structure and CRC checked, digest records added up, see SegmentWalker), compresses
 * the block on its own and appends it to a temp file. `seal()` writes header and block index
 * at the start of the file, fsyncs it, renames it to its final name and fsyncs the directory:
 * the copy appears under its name only when complete and durable (step 1 of the crash-safe
 * order in docs/ARCHIVER.md, "Archive tier").
 *
 * Memory: one block of the source (a view of the mapping) and its compressed bytes.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { crc32c } from '../../util/crc32c.js';
import type { DeletionLogRecord } from '../deletion-log.js';
import type { SegmentSummary } from '../digest.js';
import { storageError } from '../io-errors.js';
import { syncDirectory } from '../segment-files.js';
import { compressBlock } from './block-codec.js';
import { SegmentWalker } from './segment-walker.js';
import { HEADER_LENGTH, INDEX_ENTRY_LENGTH, encodeArchivedHeader, type BlockEntry, type Compression } from './tier-layout.js';

export interface ArchivedWriterOptions {
  recordingId: number;
  base: number;
  segmentLength: number;
  /** Segment offset of the first frame (0 unless the recording starts inside this segment). */
  from: number;
  /** Position the recording's frames end at. */
  limit: number;
  /** The segment's bytes (its read-only mapping). */
  source: Buffer;
  compression: Compression;
  level?: number;
  blockSize: number;
  tempPath: string;
  finalPath: string;
}

export interface SealedCopy {
  summary: SegmentSummary;
  fileBytes: number;
  dataLength: number;
}

export class ArchivedWriter {
  private fd = -1;
  private readonly walker: SegmentWalker;
  private readonly blocks: BlockEntry[] = [];
  private fileOffset: number;
  private nextBlock = 0;
  private finished = false;
  bytesIn = 0;

  constructor(private readonly o: ArchivedWriterOptions) {
    this.walker = new SegmentWalker(o.recordingId, o.base, o.segmentLength, o.from, o.limit);
    // room for the longest index the segment can need: the blocks follow it
    this.fileOffset = HEADER_LENGTH + Math.ceil(o.segmentLength / o.blockSize) * INDEX_ENTRY_LENGTH;
  }

  /** True once every block is written (seal() comes next). */
  get isDone(): boolean {
    return this.finished;
  }

  get blocksWritten(): number {
    return this.blocks.length;
  }

  /** Estimated blocks of the whole copy (for progress). */
  get blocksTotal(): number {
    return this.finished ? this.blocks.length : Math.max(this.blocks.length + 1, Math.ceil(Math.min(this.o.segmentLength, Math.max(1, this.o.limit - this.o.base)) / this.o.blockSize));
  }

  /** Compresses and writes the next block; returns true when the last block is written. */
  step(): boolean {
    if (this.finished) return true;
    const { blockSize, segmentLength, source } = this.o;
    const start = this.nextBlock * blockSize;
    const stop = Math.min(segmentLength, start + blockSize);
    this.walker.walk(source, 0, stop);
    const dataEnd = this.walker.done ? this.walker.dataLength : stop;
    if (start >= dataEnd) {
      this.finished = true;
      return true;
    }
    const end = Math.min(stop, dataEnd);
    const raw = source.subarray(start, end);
    const packed = compressBlock(this.o.compression, raw, this.o.level);
    try {
      if (this.fd < 0) this.fd = openSync(this.o.tempPath, 'w');
      writeFully(this.fd, packed, this.fileOffset);
    } catch (err) {
      this.abort();
      throw storageError(err, `cannot write ${this.o.tempPath}`);
    }
    this.blocks.push({ fileOffset: this.fileOffset, segmentOffset: start, length: end - start, compressedLength: packed.length, crc32c: crc32c(packed, 0, packed.length) });
    this.fileOffset += packed.length;
    this.bytesIn += end - start;
    this.nextBlock++;
    if (end >= dataEnd && this.walker.done) this.finished = true;
    return this.finished;
  }

  /**
   * Header and index in place, file fsync'ed, renamed to its final name, directory fsync'ed.
   * `log` is the segment's deletion log (merged into the digest as verifySegment does).
   */
  seal(log: readonly DeletionLogRecord[]): SealedCopy {
    while (!this.finished) this.step();
    const summary = this.walker.finish(log);
    const dataLength = this.walker.dataLength;
    const head = encodeArchivedHeader({
      recordingId: this.o.recordingId,
      base: this.o.base,
      segmentLength: this.o.segmentLength,
      dataLength: this.blocks.length === 0 ? 0 : dataLength,
      compression: this.o.compression,
      blockSize: this.o.blockSize,
      digest: summary.digest,
      blocks: this.blocks,
    });
    try {
      if (this.fd < 0) this.fd = openSync(this.o.tempPath, 'w');
      writeFully(this.fd, head, 0);
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.o.tempPath, this.o.finalPath);
      syncDirectory(dirname(this.o.finalPath));
    } catch (err) {
      this.abort();
      throw storageError(err, `cannot write ${basename(this.o.finalPath)} in ${dirname(this.o.finalPath)}`);
    }
    return { summary, fileBytes: Math.max(this.fileOffset, head.length), dataLength: this.blocks.length === 0 ? 0 : dataLength };
  }

  /** Closes and removes the temp file. */
  abort(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // closed
      }
      this.fd = -1;
    }
    try {
      unlinkSync(this.o.tempPath);
    } catch {
      // not there
    }
  }
}

function writeFully(fd: number, buf: Buffer, at: number): void {
  for (let done = 0; done < buf.length; ) {
    const n = writeSync(fd, buf, done, buf.length - done, at + done);
    if (n <= 0) throw Object.assign(new Error('No space left on device (short write)'), { code: 'ENOSPC' });
    done += n;
  }
}

/**
 * Checks an archived copy a block per `step()` (step 2 of the crash-safe order): each block's
 * CRC, that it decompresses to its recorded length, every frame's structure and CRC, and at
 * the end that the digest of the frames (deletion log merged) is the one expected and the one
 * in the file's header. A frame that crosses a block boundary is carried to the next block, so
 * memory stays at one block plus at most one event.
 */
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { DeletionLogRecord } from '../deletion-log.js';
import type { SegmentSummary } from '../digest.js';
import { FRAME_HEADER_LENGTH } from '../layout.js';
import { ArchivedFile } from './archived-file.js';
import { SegmentWalker } from './segment-walker.js';

export interface CopyExpectation {
  recordingId: number;
  base: number;
  segmentLength: number;
  from: number;
  limit: number;
  digest: string;
}

export class CopyVerifier {
  private file: ArchivedFile | undefined;
  private readonly walker: SegmentWalker;
  private carry: Buffer = Buffer.alloc(0);
  private carryOffset: number;
  private next = 0;
  private finished = false;

  constructor(
    readonly path: string,
    private readonly expect: CopyExpectation,
  ) {
    this.walker = new SegmentWalker(expect.recordingId, expect.base, expect.segmentLength, expect.from, expect.limit);
    this.carryOffset = expect.from;
  }

  get isDone(): boolean {
    return this.finished;
  }

  /** Checks the next block; true when every block is checked. */
  step(): boolean {
    if (this.finished) return true;
    const f = (this.file ??= this.open());
    if (this.next < f.blockCount) {
      const b = f.header.blocks[this.next]!;
      const data = f.readBlock(this.next);
      this.next++;
      // bytes before the first frame (a recording starting inside the segment) are not frames
      const skip = Math.max(0, this.carryOffset - b.segmentOffset - this.carry.length);
      const window = this.carry.length > 0 ? Buffer.concat([this.carry, data.subarray(skip)]) : data.subarray(skip);
      const windowOffset = this.carry.length > 0 ? this.carryOffset : b.segmentOffset + skip;
      this.walker.walk(window, windowOffset, b.segmentOffset + b.length);
      this.keep(window, windowOffset);
      if (!this.walker.done || this.next < f.blockCount) return false;
    }
    if (!this.walker.done) {
      // past the stored bytes the segment is zeros: a zero length ends the frames
      const window = Buffer.concat([this.carry, Buffer.alloc(FRAME_HEADER_LENGTH)]);
      this.walker.walk(window, this.carryOffset, this.expect.segmentLength);
      if (!this.walker.done) throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${this.path}: the last frame is cut short`);
    }
    if (this.walker.dataLength !== f.header.dataLength && f.blockCount > 0) {
      throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${this.path}: frames end at ${this.walker.dataLength}, header says ${f.header.dataLength}`);
    }
    this.finished = true;
    return true;
  }

  /** The copy's summary; DIGEST_MISMATCH unless it is the expected digest (run after the last step). */
  result(log: readonly DeletionLogRecord[]): SegmentSummary {
    while (!this.finished) this.step();
    const s = this.walker.finish(log);
    const header = this.file!.header.digest;
    if (s.digest !== this.expect.digest || header !== this.expect.digest) {
      throw new VcrError(ErrorCode.DIGEST_MISMATCH, `${this.path}: digest ${s.digest} (header ${header}) is not the expected ${this.expect.digest}`);
    }
    return s;
  }

  close(): void {
    this.file?.close();
    this.file = undefined;
  }

  private open(): ArchivedFile {
    const f = ArchivedFile.open(this.path);
    const h = f.header;
    if (h.recordingId !== this.expect.recordingId || h.base !== this.expect.base || h.segmentLength !== this.expect.segmentLength) {
      f.close();
      throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${this.path} holds segment ${h.base} of recording ${h.recordingId}, not ${this.expect.base} of ${this.expect.recordingId}`);
    }
    return f;
  }

  private keep(window: Buffer, windowOffset: number): void {
    const at = this.walker.offset - windowOffset;
    this.carry = at < window.length ? Buffer.from(window.subarray(at)) : Buffer.alloc(0);
    this.carryOffset = this.walker.offset;
  }
}

/**
 * The recording writer's staging buffer: frames of consecutive positions of one segment are
 * encoded here (memory the process already touches, hot in cache) and written to the segment
 * file with two pwrite calls when the batch is published, instead of being stored one by one
 * into the segment's mapping.
 *
 * Why: the first store to each page of a freshly mapped segment is a page fault. On the VMs
 * this runs on that cost ~160-190 ms of CPU per 64 MiB segment (~0.4 us per 136-byte frame,
 * more than the copy and the CRC together), while writing the same bytes with pwrite from a
 * reused buffer costs ~20 ms (docs/BENCHMARKS.md, file ingest). The file's page cache is the
 * one every mapping of the segment shows, so readers (in this process or another) see the
 * frames as soon as the write returns.
 *
 * Publication order: the batch is written without its first frame's length word, then that
 * word. Readers stop at a zero length, so no reader ever sees a frame of the batch before all
 * of its bytes are in place, as with the mapping path's "length last" store.
 */
import { writeFully } from './io-errors.js';
import type { FrameTarget } from './frame-encoder.js';

/** Default staging size: large enough to batch a duty cycle's frames, small enough to stay in L2. */
export const DEFAULT_STAGE_BYTES = 256 * 1024;

export class FrameStage implements FrameTarget {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  readonly longs: BigInt64Array;
  /** Bytes staged (frame-aligned). */
  used = 0;
  /** Frames staged. */
  frames = 0;
  /** Offset in the segment of the first staged frame. */
  start = 0;
  /** The writer's last times before the first staged frame (restored if the batch is lost). */
  prevUtcNs = 0n;
  prevMonoNs = 0n;

  constructor(readonly capacity = DEFAULT_STAGE_BYTES) {
    const ab = new ArrayBuffer(capacity);
    this.bytes = new Uint8Array(ab);
    this.words = new Int32Array(ab);
    this.longs = new BigInt64Array(ab);
  }

  get isEmpty(): boolean {
    return this.used === 0;
  }

  /** True if a frame of `aligned` bytes still fits behind the staged ones. */
  fits(aligned: number): boolean {
    return this.used + aligned <= this.capacity;
  }

  /** Starts a batch at segment offset `start` (call when empty). */
  begin(start: number, prevUtcNs: bigint, prevMonoNs: bigint): void {
    this.start = start;
    this.prevUtcNs = prevUtcNs;
    this.prevMonoNs = prevMonoNs;
  }

  /**
   * Writes the staged frames to `fd` at their segment offsets, the first length word last,
   * and empties the stage. Throws the write's error (the stage is emptied either way).
   */
  writeTo(fd: number): void {
    const used = this.used;
    this.used = 0;
    this.frames = 0;
    if (used === 0) return;
    writeFully(fd, this.bytes, 4, used - 4, this.start + 4);
    writeFully(fd, this.bytes, 0, 4, this.start);
  }

  /** Drops the staged frames (the recording failed before they were written). */
  discard(): void {
    this.used = 0;
    this.frames = 0;
  }
}

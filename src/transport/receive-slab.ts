/**
 * Frame decoding for sockets we create ourselves (the connecting side), where Node lets us
 * choose the memory each read lands in (`net.connect({onread})`): reads go straight into a
 * large slab owned here, one after the other, so a frame that spans several reads is already
 * contiguous and is handed over in place, with no assembly copy and no Buffer allocated per
 * read (the chunk mode of FrameDecoder must join such frames, which costs as much as the
 * kernel's own copy for 64 KiB messages).
 *
 * Memory handed to the sink is never written again: reads only move forward in the slab, and
 * when too little room is left (less than one read, or less than the frame in progress needs)
 * a new slab is allocated and only the partial frame's bytes are copied into it. An old slab
 * is freed by the garbage collector once the frames queued in it have been polled.
 * Length checks and errors are FrameDecoder's (frameLengthError); after an error every read
 * is refused.
 */
import type { VcrError } from '../util/errors.js';
import { FRAME_PREFIX, frameLengthError, type FrameRunSink } from './frame-decoder.js';

/** Default slab size: 1 MiB (several socket reads, many frames). */
export const DEFAULT_RECEIVE_SLAB_BYTES = 1024 * 1024;
/**
 * Room offered to one read (Node's own read size), more only to complete a larger frame in
 * progress: so what a paused connection holds beyond its inbound limit is one read plus one
 * frame, as in chunk mode. Below this much room the slab is replaced.
 */
const READ_BYTES = 64 * 1024;

export class ReceiveSlab {
  private slab: Buffer;
  /** end of the bytes received */
  private readEnd = 0;
  /** start of the bytes not yet handed over as whole frames (the partial frame) */
  private scanPos = 0;
  private failure: VcrError | undefined;

  constructor(
    readonly maxFrameLength: number,
    private readonly slabBytes = DEFAULT_RECEIVE_SLAB_BYTES,
  ) {
    this.slab = Buffer.allocUnsafe(slabBytes);
  }

  get error(): VcrError | undefined {
    return this.failure;
  }

  /** Bytes received that do not yet form a whole frame. */
  get partialBytes(): number {
    return this.readEnd - this.scanPos;
  }

  /** Where the next socket read goes (Node's `onread.buffer` generator). */
  readonly nextBuffer = (): Buffer => {
    const partial = this.readEnd - this.scanPos;
    let frameEnd = 0; // bytes the frame in progress needs in total, when its length is known
    if (partial >= FRAME_PREFIX && !this.failure) {
      const length = this.slab.readUInt32LE(this.scanPos);
      if (length <= this.maxFrameLength) frameEnd = FRAME_PREFIX + length;
    }
    if (this.slab.length - this.readEnd < READ_BYTES || this.slab.length - this.scanPos < frameEnd) {
      const next = Buffer.allocUnsafe(Math.max(this.slabBytes, frameEnd + READ_BYTES));
      this.slab.copy(next, 0, this.scanPos, this.readEnd);
      this.slab = next;
      this.scanPos = 0;
      this.readEnd = partial;
    }
    const room = Math.max(READ_BYTES, frameEnd - partial);
    return this.slab.subarray(this.readEnd, this.readEnd + room);
  };

  /**
   * Takes `nread` bytes just read into the buffer `nextBuffer` returned; whole frames go to
   * `sink`. Throws a VcrError on a bad length (frames before it have gone to the sink).
   */
  received(nread: number, sink: FrameRunSink): void {
    if (this.failure) throw this.failure;
    const slab = this.slab;
    const end = (this.readEnd += nread);
    const start = this.scanPos;
    let pos = start;
    let frames = 0;
    while (end - pos >= FRAME_PREFIX) {
      const length = slab.readUInt32LE(pos);
      const error = frameLengthError(length, this.maxFrameLength);
      if (error) {
        if (frames > 0) sink(slab, start, pos, frames);
        this.failure = error;
        throw error;
      }
      if (end - pos - FRAME_PREFIX < length) break;
      pos += FRAME_PREFIX + length;
      frames++;
    }
    this.scanPos = pos;
    if (frames > 0) sink(slab, start, pos, frames);
  }
}

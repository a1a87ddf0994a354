/**
 * The frames a connection has received and its owner has not yet taken, kept as runs of whole
 * frames inside the chunks they arrived in (see FrameDecoder): no object and no copy per frame.
 * The socket callback appends runs; the owner's duty cycle takes frames one by one with
 * `poll()`. `bytes` (frames with their prefixes) is what the connection compares with its
 * inbound limit to pause the socket.
 */
import { FRAME_PREFIX } from './frame-decoder.js';
import { isHeartbeat } from './liveness.js';

/**
 * Called with one frame's payload (one SBE message): `length` bytes of `buffer` from `offset`.
 * Lifetime: the transport never writes these bytes again (socket chunks are Node's own,
 * receive slabs only move forward, a frame assembled from pieces gets a buffer of its own),
 * so a view kept after the handler returns stays valid. A view keeps the memory it points into
 * alive (a receive slab of up to 1 MiB, or a socket chunk): copy small pieces that are kept
 * for long.
 */
export type FrameHandler = (buffer: Buffer, offset: number, length: number) => void;

export class InboundQueue {
  private buffers: Buffer[] = [];
  private cursors: number[] = [];
  private ends: number[] = [];
  private head = 0;
  private queuedBytes = 0;
  private queuedFrames = 0;

  get bytes(): number {
    return this.queuedBytes;
  }

  /** Frames waiting (counted when they are appended). */
  get frames(): number {
    return this.queuedFrames;
  }

  get isEmpty(): boolean {
    return this.queuedBytes === 0;
  }

  /** Appends [start, end) of `buffer`: whole frames with their prefixes. */
  append(buffer: Buffer, start: number, end: number, frames: number): void {
    this.buffers.push(buffer);
    this.cursors.push(start);
    this.ends.push(end);
    this.queuedBytes += end - start;
    this.queuedFrames += frames;
  }

  /**
   * Hands up to `limit` frames to `handler` in order and returns how many it handed over.
   * Heartbeats (liveness.ts) are taken and dropped, not handed over nor counted.
   * A frame counts as taken before its handler runs, so a handler that throws does not see
   * it again; the exception propagates to the caller.
   */
  poll(handler: FrameHandler, limit: number): number {
    let count = 0;
    while (count < limit && this.head < this.buffers.length) {
      const h = this.head;
      const buffer = this.buffers[h]!;
      const pos = this.cursors[h]!;
      const length = buffer.readUInt32LE(pos);
      const next = pos + FRAME_PREFIX + length;
      this.cursors[h] = next;
      this.queuedBytes -= FRAME_PREFIX + length;
      this.queuedFrames--;
      if (next >= this.ends[h]!) this.dropHead();
      if (isHeartbeat(buffer, pos + FRAME_PREFIX, length)) continue; // the transport's own: never the owner's
      count++;
      handler(buffer, pos + FRAME_PREFIX, length);
    }
    return count;
  }

  clear(): void {
    this.buffers = [];
    this.cursors = [];
    this.ends = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.queuedFrames = 0;
  }

  private dropHead(): void {
    this.buffers[this.head] = EMPTY;
    this.head++;
    if (this.head === this.buffers.length) {
      this.buffers.length = 0;
      this.cursors.length = 0;
      this.ends.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.buffers.length) {
      this.buffers = this.buffers.slice(this.head);
      this.cursors = this.cursors.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

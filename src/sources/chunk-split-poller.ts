/**
 * Shared by the stream-like sources (file, stdin): a bounded queue of received chunks, each
 * with its receipt timestamps, split into events at poll time so a duty cycle can stop after
 * `limit` events. A boundary marker in the queue ends the current input (a rotated or
 * truncated file): the partial event before it is emitted as a trailing event. A trailing
 * event (at a boundary, at finish) had no separator, so it is flagged UNTERMINATED.
 */
import { SeparatorSplitter, type SplitHandler } from '../util/separator-splitter.js';
import { SourceEventFlags, type SourceCounters, type SourceEventHandler } from './source.js';

interface QueuedChunk {
  /** undefined marks a boundary (end of one input, another may follow). */
  readonly buffer: Buffer | undefined;
  readonly utcNs: bigint;
  readonly monoNs: bigint;
}

export class ChunkSplitPoller {
  readonly splitter: SeparatorSplitter;
  private readonly queue: QueuedChunk[] = [];
  private queuedBytes = 0;
  private current: QueuedChunk | undefined;
  private target: SourceEventHandler | undefined;
  private utcNs = 0n;
  private monoNs = 0n;
  /** Flags for the events the splitter emits now: UNTERMINATED while it finishes an input. */
  private flags = 0;
  private readonly splitHandler: SplitHandler;

  constructor(
    separator: Uint8Array,
    maxEventSize: number,
    private readonly counters: SourceCounters,
    /** Told when a chunk's bytes are no longer referenced (to recycle the buffer). */
    private readonly onChunkDone?: (buffer: Buffer) => void,
  ) {
    this.splitter = new SeparatorSplitter(separator, {
      maxEventSize,
      onOversize: () => {
        this.counters.oversize++;
      },
    });
    this.splitHandler = (b, o, l) => {
      this.counters.events++;
      this.counters.bytes += l;
      this.target!(b, o, l, this.utcNs, this.monoNs, this.flags);
    };
  }

  /** Chunks waiting (not counting the one being split). */
  get queuedChunks(): number {
    return this.queue.length;
  }

  get bytesQueued(): number {
    return this.queuedBytes;
  }

  /** True when nothing is queued and the current chunk is fully split (a partial event may remain). */
  get isDrained(): boolean {
    return this.queue.length === 0 && this.current === undefined;
  }

  enqueue(buffer: Buffer, utcNs: bigint, monoNs: bigint): void {
    if (buffer.length === 0) {
      this.onChunkDone?.(buffer);
      return;
    }
    this.queue.push({ buffer, utcNs, monoNs });
    this.queuedBytes += buffer.length;
  }

  enqueueBoundary(utcNs: bigint, monoNs: bigint): void {
    this.queue.push({ buffer: undefined, utcNs, monoNs });
  }

  poll(handler: SourceEventHandler, limit: number): number {
    this.target = handler;
    let n = 0;
    while (n < limit) {
      if (this.current === undefined) {
        const next = this.queue.shift();
        if (next === undefined) break;
        this.utcNs = next.utcNs;
        this.monoNs = next.monoNs;
        if (next.buffer === undefined) {
          n += this.finishInput();
          continue;
        }
        this.queuedBytes -= next.buffer.length;
        this.current = next;
        this.splitter.feed(next.buffer);
      }
      n += this.splitter.drain(this.splitHandler, limit - n);
      if (!this.splitter.hasInput) {
        const done = this.current.buffer!;
        this.current = undefined;
        this.onChunkDone?.(done);
      }
    }
    return n;
  }

  /** End of all input: emit the trailing event, flagged UNTERMINATED (call when isDrained). */
  finish(handler: SourceEventHandler): number {
    this.target = handler;
    return this.finishInput();
  }

  /** Everything queued, then the trailing event: for a source whose recording stops. */
  flush(handler: SourceEventHandler): number {
    let n = 0;
    for (;;) {
      const got = this.poll(handler, 4096);
      n += got;
      if (got === 0) break; // poll() stops short only when nothing is queued
    }
    return n + this.finish(handler);
  }

  /** Called with no chunk left to split: what the splitter emits now is the unfinished record. */
  private finishInput(): number {
    this.flags = SourceEventFlags.UNTERMINATED;
    try {
      return this.splitter.finish(this.splitHandler);
    } finally {
      this.flags = 0;
    }
  }

  clear(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.current = undefined;
    this.splitter.reset();
  }
}

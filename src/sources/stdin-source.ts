/**
 * Separated events from a byte stream: process.stdin by default, or any Readable (a pipe, a
 * socket). The 'data' callback only enqueues the chunk with its receipt timestamps; when
 * maxQueuedChunks wait, the stream is paused (back-pressure on the writer, nothing lost) and
 * resumed by poll() once the queue has room. At 'end' the trailing event without separator
 * is emitted and the source has ended.
 */
import type { Readable } from 'node:stream';
import { ErrorCode, VcrError } from '../util/errors.js';
import { MonotonicUtcClock, systemNanoClock, type EpochNanoClock, type NanoClock } from '../util/clock.js';
import { ChunkSplitPoller } from './chunk-split-poller.js';
import { newSourceCounters, SourceState, type Source, type SourceCounters, type SourceEventHandler, isEndState } from './source.js';
import type { StdinSourceSpec } from './uri.js';

export interface StdinSourceOptions {
  nanoClock?: NanoClock;
  utcClock?: EpochNanoClock;
  /** The stream to read. Default process.stdin. */
  stream?: Readable;
  /** Chunks held before pausing the stream. Default 16. */
  maxQueuedChunks?: number;
}

export class StdinSource implements Source {
  readonly kind = 'stdin' as const;
  readonly uri: string;
  readonly counters: SourceCounters = newSourceCounters();
  onAvailable: (() => void) | undefined;
  private stateValue: SourceState = SourceState.INIT;
  private error: Error | undefined;
  private readonly nanoClock: NanoClock;
  private readonly utcClock: EpochNanoClock;
  private readonly stream: Readable;
  private readonly maxQueuedChunks: number;
  private readonly poller: ChunkSplitPoller;
  private inputEnded = false;
  private paused = false;

  constructor(
    readonly spec: StdinSourceSpec,
    options: StdinSourceOptions = {},
  ) {
    this.uri = spec.uri;
    this.nanoClock = options.nanoClock ?? systemNanoClock;
    this.utcClock = options.utcClock ?? new MonotonicUtcClock(this.nanoClock);
    this.stream = options.stream ?? process.stdin;
    this.maxQueuedChunks = Math.max(1, options.maxQueuedChunks ?? 16);
    this.poller = new ChunkSplitPoller(spec.separator, spec.maxEventSize, this.counters);
  }

  get state(): SourceState {
    return this.stateValue;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  open(): Promise<void> {
    if (this.stateValue !== SourceState.INIT) return Promise.reject(new Error(`${this.uri}: already opened`));
    this.stateValue = SourceState.ACTIVE;
    const s = this.stream;
    s.on('data', this.onData);
    s.once('end', this.onEnd);
    s.on('error', this.onError);
    if (s.readableEnded) this.inputEnded = true;
    s.resume();
    return Promise.resolve();
  }

  private readonly onData = (chunk: Buffer | string): void => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.poller.enqueue(b, this.utcClock.epochNanos(), this.nanoClock.nanoTime());
    if (this.poller.queuedChunks >= this.maxQueuedChunks && !this.paused) {
      this.paused = true;
      this.stream.pause();
    }
    this.onAvailable?.();
  };

  private readonly onEnd = (): void => {
    this.inputEnded = true;
    this.onAvailable?.();
  };

  private readonly onError = (e: Error): void => {
    this.counters.errors++;
    this.error = new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: ${e.message}`, { cause: e });
    this.inputEnded = true;
    this.onAvailable?.();
  };

  poll(handler: SourceEventHandler, limit: number): number {
    if (this.stateValue !== SourceState.ACTIVE) return 0;
    let work = this.poller.poll(handler, limit);
    if (this.paused && this.poller.queuedChunks < this.maxQueuedChunks) {
      this.paused = false;
      this.stream.resume();
    }
    if (this.inputEnded && this.poller.isDrained) {
      work += this.poller.finish(handler);
      this.detach();
      this.stateValue = this.error ? SourceState.FAILED : SourceState.ENDED;
    }
    return work;
  }

  isEnded(): boolean {
    return isEndState(this.stateValue);
  }

  flush(handler: SourceEventHandler): number {
    if (this.stateValue !== SourceState.ACTIVE) return 0;
    return this.poller.flush(handler);
  }

  boundUri(): string {
    return this.uri;
  }

  close(): void {
    if (this.stateValue === SourceState.CLOSED) return;
    this.stateValue = SourceState.CLOSED;
    this.poller.clear();
    this.detach();
    if (this.stream !== process.stdin) this.stream.destroy();
    else this.stream.pause();
  }

  private detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
  }
}

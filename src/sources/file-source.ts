/**
 * A file as a source of separated events: read once to the end, or followed like `tail -F`
 * (keeps reading as it grows; survives rotation, i.e. renamed and recreated, by finishing the
 * old file and reopening the path; survives truncation by restarting from offset 0).
 *
 * All file I/O is asynchronous and issued from poll() (one operation at a time); completion
 * callbacks only enqueue the chunk with its receipt timestamps. A new read is issued only
 * while fewer than maxQueuedChunks wait, so a huge file never fills memory. Chunk buffers are
 * recycled once split.
 */
import { close as fsClose, fstat, open as fsOpen, read as fsRead, stat as fsStat, type Stats } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';
import { MonotonicUtcClock, systemNanoClock, type EpochNanoClock, type NanoClock } from '../util/clock.js';
import { ChunkSplitPoller } from './chunk-split-poller.js';
import { newSourceCounters, SourceState, type Source, type SourceCounters, type SourceEventHandler, isEndState } from './source.js';
import type { FileSourceSpec } from './uri.js';

export interface FileSourceOptions {
  nanoClock?: NanoClock;
  utcClock?: EpochNanoClock;
  /** Bytes per read. Default 1 MiB: fewer reads and duty-cycle turns per event (file-ingest profile, docs/BENCHMARKS.md). */
  chunkSize?: number;
  /** Read-ahead: most chunks waiting to be split. Default 4. */
  maxQueuedChunks?: number;
  /** Follow mode: how often to look for growth, rotation, truncation at end of file. Default 200 ms. */
  followIntervalNs?: bigint;
}

export class FileSource implements Source {
  readonly kind = 'file' as const;
  readonly uri: string;
  readonly counters: SourceCounters = newSourceCounters();
  onAvailable: (() => void) | undefined;
  /** Times the followed file was found rotated / truncated. */
  rotations = 0;
  truncations = 0;
  private stateValue: SourceState = SourceState.INIT;
  private error: Error | undefined;
  private readonly nanoClock: NanoClock;
  private readonly utcClock: EpochNanoClock;
  private readonly chunkSize: number;
  private readonly maxQueuedChunks: number;
  private readonly followIntervalNs: bigint;
  private readonly poller: ChunkSplitPoller;
  private readonly pool: Buffer[] = [];
  private fd = -1;
  private fdToCloseWhenIdle = -1;
  private readInFlight = false;
  private ino = -1;
  private dev = -1;
  private position = 0;
  /** An async operation (read, stat, open) is in flight: only one at a time. */
  private busy = false;
  private atEof = false;
  private inputEnded = false;
  /** Rotation seen: drain the old file to its end, then reopen the path. */
  private rotating = false;
  private nextFollowCheckNs = 0n;
  private pendingStat: { err: NodeJS.ErrnoException | null; st: Stats | undefined } | undefined;

  constructor(
    readonly spec: FileSourceSpec,
    options: FileSourceOptions = {},
  ) {
    this.uri = spec.uri;
    this.nanoClock = options.nanoClock ?? systemNanoClock;
    this.utcClock = options.utcClock ?? new MonotonicUtcClock(this.nanoClock);
    this.chunkSize = Math.max(64, options.chunkSize ?? 1024 * 1024);
    this.maxQueuedChunks = Math.max(1, options.maxQueuedChunks ?? 4);
    this.followIntervalNs = options.followIntervalNs ?? 200_000_000n;
    this.poller = new ChunkSplitPoller(spec.separator, spec.maxEventSize, this.counters, (b) => this.recycle(b));
  }

  get state(): SourceState {
    return this.stateValue;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** Bytes read from the current file so far. */
  get readPosition(): number {
    return this.position;
  }

  open(): Promise<void> {
    if (this.stateValue !== SourceState.INIT) return Promise.reject(new Error(`${this.uri}: already opened`));
    this.stateValue = SourceState.OPENING;
    return new Promise<void>((resolve, reject) => {
      this.openPath((err) => {
        if (err) {
          this.fail(err, `cannot open ${this.spec.path}`);
          reject(this.error);
        } else {
          if (this.stateValue === SourceState.OPENING) this.stateValue = SourceState.ACTIVE;
          resolve();
        }
      });
    });
  }

  poll(handler: SourceEventHandler, limit: number): number {
    if (this.stateValue !== SourceState.ACTIVE) return 0;
    let work = this.poller.poll(handler, limit);
    if (!this.busy) work += this.step();
    if (this.inputEnded && !this.busy && this.poller.isDrained) {
      work += this.poller.finish(handler);
      this.closeFd();
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
    this.closeFd();
  }

  /** Decide the next background I/O step; returns 1 if something was started or handled. */
  private step(): number {
    if (this.pendingStat) {
      const { err, st } = this.pendingStat;
      this.pendingStat = undefined;
      return this.onFollowStat(err, st);
    }
    if (this.inputEnded) return 0;
    if (this.fd < 0) return this.spec.follow ? this.retryOpen() : 0;
    if (!this.atEof) {
      if (this.poller.queuedChunks >= this.maxQueuedChunks) return 0;
      this.startRead();
      return 1;
    }
    if (!this.spec.follow) return 0;
    if (this.nanoClock.nanoTime() < this.nextFollowCheckNs) return 0;
    this.nextFollowCheckNs = this.nanoClock.nanoTime() + this.followIntervalNs;
    this.busy = true;
    fsStat(this.spec.path, (err, st) => {
      this.busy = false;
      this.pendingStat = { err, st };
      this.onAvailable?.();
    });
    return 1;
  }

  /** Follow mode after a rotation whose new file was not there yet: try the path again. */
  private retryOpen(): number {
    const now = this.nanoClock.nanoTime();
    if (now < this.nextFollowCheckNs) return 0;
    this.nextFollowCheckNs = now + this.followIntervalNs;
    this.busy = true;
    this.openPath(() => {
      this.busy = false;
      this.onAvailable?.();
    });
    return 1;
  }

  private onFollowStat(err: NodeJS.ErrnoException | null, st: Stats | undefined): number {
    if (this.rotating) return 0;
    if (err || !st) {
      // Renamed away and not recreated yet: the old file may still grow; keep reading it.
      this.atEof = false;
      return 0;
    }
    if (st.ino !== this.ino || st.dev !== this.dev) {
      this.rotations++;
      this.rotating = true;
      this.atEof = false; // drain what the old file still has, then reopen (see onRead)
      return 1;
    }
    if (st.size < this.position) {
      this.truncations++;
      this.poller.enqueueBoundary(this.utcClock.epochNanos(), this.nanoClock.nanoTime());
      this.position = 0;
      this.atEof = false;
      return 1;
    }
    if (st.size > this.position) this.atEof = false;
    return 0;
  }

  private startRead(): void {
    const buf = this.pool.pop() ?? Buffer.allocUnsafe(this.chunkSize);
    const fd = this.fd;
    this.busy = true;
    this.readInFlight = true;
    fsRead(fd, buf, 0, buf.length, this.position, (err, bytesRead) => {
      this.busy = false;
      this.readInFlight = false;
      this.closeDeferredFd();
      if (this.stateValue === SourceState.CLOSED || fd !== this.fd) return;
      if (err) {
        this.pool.push(buf);
        this.fail(err, `read failed at offset ${this.position}`);
        this.inputEnded = true;
        this.onAvailable?.();
        return;
      }
      const monoNs = this.nanoClock.nanoTime();
      const utcNs = this.utcClock.epochNanos();
      if (bytesRead > 0) {
        this.position += bytesRead;
        this.poller.enqueue(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), utcNs, monoNs);
        this.onAvailable?.();
        return;
      }
      this.pool.push(buf);
      if (this.rotating) {
        // The old file is finished: its last partial event is complete; open the new one.
        this.poller.enqueueBoundary(utcNs, monoNs);
        this.closeFd();
        this.rotating = false;
        this.busy = true;
        this.nextFollowCheckNs = monoNs + this.followIntervalNs;
        this.openPath(() => {
          this.busy = false; // if the new file is not there yet, step() retries (fd < 0)
          this.onAvailable?.();
        });
        return;
      }
      this.atEof = true;
      if (!this.spec.follow) this.inputEnded = true;
      else this.nextFollowCheckNs = monoNs + this.followIntervalNs;
      this.onAvailable?.();
    });
  }

  private openPath(done: (err: NodeJS.ErrnoException | null) => void): void {
    fsOpen(this.spec.path, 'r', (err, fd) => {
      if (err) return done(err);
      fstat(fd, (e2, st) => {
        if (e2) {
          fsClose(fd, () => {});
          return done(e2);
        }
        if (!st.isFile()) {
          fsClose(fd, () => {});
          const e3: NodeJS.ErrnoException = new Error(`${this.spec.path} is not a regular file`);
          e3.code = 'EISDIR';
          return done(e3);
        }
        if (this.stateValue === SourceState.CLOSED) {
          fsClose(fd, () => {});
          return done(null);
        }
        this.fd = fd;
        this.ino = st.ino;
        this.dev = st.dev;
        this.position = 0;
        this.atEof = false;
        done(null);
      });
    });
  }

  private recycle(b: Buffer): void {
    // Only whole chunk buffers go back; a short last read is a view (cheap to drop).
    if (b.length === this.chunkSize && this.pool.length < this.maxQueuedChunks + 1) this.pool.push(b);
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    // Never close under an in-flight read: the number could be reused by another open.
    if (this.readInFlight) this.fdToCloseWhenIdle = fd;
    else fsClose(fd, () => {});
  }

  private closeDeferredFd(): void {
    if (this.fdToCloseWhenIdle >= 0) {
      fsClose(this.fdToCloseWhenIdle, () => {});
      this.fdToCloseWhenIdle = -1;
    }
  }

  private fail(e: unknown, what: string): void {
    this.counters.errors++;
    const msg = e instanceof Error ? e.message : String(e);
    this.error = new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: ${what}: ${msg}`, { cause: e });
    if (this.stateValue === SourceState.OPENING) this.stateValue = SourceState.FAILED;
  }
}

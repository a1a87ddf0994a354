/**
 * One recording: moves events from a source into a recording writer, in batches, on the
 * archiver's duty cycle. The source is opened first (a UDP bind can fail) and only then is the
 * recording created in the archive, so a source that cannot open leaves no empty recording
 * behind. The writer's metadata is committed once per duty cycle, not per event.
 *
 * The recording's descriptor names the source as it was really opened (its bound URI: a UDP
 * source given port 0 is recorded with the port it bound).
 *
 * A storage failure (disk full, unwritable) ends only this session, in state FAILED, with the
 * error code kept for the RecordingStopped notification; a finite source that has delivered
 * everything ends it with SOURCE_ENDED.
 */
import type { Session } from '../agent/agent.js';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { StopReasonName } from './notification-proxy.js';
import type { EventSourcePort, RecordingWriterPort, SourceCountersView } from './ports.js';

export const RecordingSessionState = {
  OPENING: 'OPENING',
  RECORDING: 'RECORDING',
  STOPPED: 'STOPPED',
  FAILED: 'FAILED',
} as const;
export type RecordingSessionState = (typeof RecordingSessionState)[keyof typeof RecordingSessionState];

export interface RecordingSessionClock {
  utcNs(): bigint;
  monoNs(): bigint;
}

type PendingWriter = { state: 'pending' } | { state: 'done'; writer: RecordingWriterPort } | { state: 'failed'; error: unknown };

export type WriterFactory = (p: { channel: string; aliases: string[]; source: string; startUtcNs: bigint; startMonoNs: bigint }) => RecordingWriterPort | Promise<RecordingWriterPort>;

export class RecordingSession implements Session {
  private stateValue: RecordingSessionState = RecordingSessionState.OPENING;
  private writer: RecordingWriterPort | undefined;
  private opened = false;
  private openError: unknown;
  private appendError: unknown;
  /** Events and bytes appended in the current poll; added to the counters once per poll. */
  private batchEvents = 0;
  private batchBytes = 0;
  private lastCounters: SourceCountersView = { events: 0, bytes: 0, kernelDrops: 0, oversize: 0, queueDrops: 0, malformed: 0 };
  /** Events the archiver dropped itself (oversize for storage); reported in progress. */
  droppedEvents = 0;
  kernelDrops = 0;
  lastUtcNs = 0n;
  stopReason: StopReasonName | undefined;
  errorCode: number = ErrorCode.OK;
  errorMessage = '';
  private stopUtcNs = 0n;
  /** The source URI as opened (set when the recording is created). */
  private openedUri: string | undefined;
  /** Called once, when the recording has been created in the archive (state RECORDING). */
  onStarted: ((rs: RecordingSession) => void) | undefined;
  /** Last progress reported (position, eventCount, drops) so unchanged progress is not sent. */
  private reported = { position: -1, drops: -1 };
  private nextProgressNs: bigint;

  /** A writer the store is still creating (asynchronous stores, e.g. a cluster). */
  private creating: PendingWriter | undefined;
  /** The recording's start; no event is dated before it (a source may have queued some before the recording existed). */
  private startUtcNs = 0n;
  private startMonoNs = 0n;
  /** The source dates its events (ownStart): the recording stops at its last event's time, not at "now". */
  private datesOwnEvents = false;

  private readonly onEvent = (buffer: Buffer, offset: number, length: number, utcNs: bigint, monoNs: bigint, flags = 0, source?: Uint8Array, sourceOffset?: number): void => {
    if (this.appendError !== undefined) return;
    if (utcNs < this.startUtcNs) utcNs = this.startUtcNs;
    if (monoNs < this.startMonoNs) monoNs = this.startMonoNs;
    try {
      this.writer!.append(buffer, offset, length, utcNs, monoNs, flags, source, sourceOffset);
      this.lastUtcNs = utcNs;
      this.batchEvents++;
      this.batchBytes += length;
    } catch (err) {
      if (isVcrError(err, ErrorCode.EVENT_TOO_LARGE)) {
        this.droppedEvents++;
        this.counters.add('oversize');
        this.counters.addChannel(this.channel, 'oversize');
        return;
      }
      this.appendError = err;
    }
  };

  constructor(
    readonly sessionId: number,
    readonly channel: string,
    readonly aliases: string[],
    private readonly requestedUri: string,
    private readonly source: EventSourcePort,
    private readonly createWriter: WriterFactory,
    private readonly clock: RecordingSessionClock,
    private readonly counters: ArchiverCounters,
    private readonly batchLimit = 4096,
    private readonly progressIntervalNs = 1_000_000_000n,
  ) {
    this.nextProgressNs = clock.monoNs() + progressIntervalNs;
    source.open().then(
      () => {
        this.opened = true;
      },
      (err: unknown) => {
        this.openError = err ?? new Error('source failed to open');
      },
    );
  }

  get state(): RecordingSessionState {
    return this.stateValue;
  }

  get recordingId(): number {
    return this.writer ? this.writer.recordingId : -1;
  }

  /** The source URI: as requested until the source opened, then as opened (bound port). */
  get sourceUri(): string {
    return this.openedUri ?? this.requestedUri;
  }

  get position(): number {
    return this.writer ? this.writer.position : 0;
  }

  get eventCount(): number {
    return this.writer ? this.writer.eventCount : 0;
  }

  get stoppedAtUtcNs(): bigint {
    return this.stopUtcNs;
  }

  isActive(): boolean {
    return this.stateValue === RecordingSessionState.OPENING || this.stateValue === RecordingSessionState.RECORDING;
  }

  isDone(): boolean {
    return !this.isActive();
  }

  doWork(): number {
    if (this.stateValue === RecordingSessionState.OPENING) return this.checkOpen();
    if (this.stateValue !== RecordingSessionState.RECORDING) return 0;
    const n = this.drain();
    if (this.appendError !== undefined) {
      this.finish('ERROR', this.appendError);
      return n + 1;
    }
    const failure = this.source.failure();
    if (failure) {
      this.finish('ERROR', isVcrError(failure) ? failure : new VcrError(ErrorCode.SOURCE_FAILED, failure.message));
      return n + 1;
    }
    if (n === 0 && this.source.isEnded()) {
      this.finish('SOURCE_ENDED');
      return 1;
    }
    return n;
  }

  private checkOpen(): number {
    if (this.openError !== undefined) {
      const err = this.openError;
      this.stateValue = RecordingSessionState.FAILED;
      this.stopReason = 'ERROR';
      this.errorCode = isVcrError(err) ? err.code : ErrorCode.SOURCE_FAILED;
      this.errorMessage = err instanceof Error ? err.message : String(err);
      this.source.close();
      return 1;
    }
    if (!this.opened) return 0;
    if (this.creating) {
      // the store creates recordings asynchronously (a cluster allocates the id in etcd)
      const c = this.creating;
      if (c.state === 'pending') return 0;
      this.creating = undefined;
      if (c.state === 'failed') return this.failOpen(c.error);
      this.writer = c.writer;
      return this.started();
    }
    try {
      // a capture dates its own events: the recording starts where its timeline starts
      const own = this.source.ownStart?.();
      this.datesOwnEvents = own !== undefined;
      this.startUtcNs = own ? own.utcNs : this.clock.utcNs();
      this.startMonoNs = own ? own.monoNs : this.clock.monoNs();
      const made = this.createWriter({
        channel: this.channel,
        aliases: this.aliases,
        source: this.source.boundUri(),
        startUtcNs: this.startUtcNs,
        startMonoNs: this.startMonoNs,
      });
      this.openedUri = this.source.boundUri();
      if (made instanceof Promise) {
        const c: PendingWriter = { state: 'pending' };
        this.creating = c;
        made.then(
          (w) => {
            Object.assign(c, { state: 'done', writer: w });
            if (this.stateValue !== RecordingSessionState.OPENING) w.stop(this.clock.utcNs()); // stopped meanwhile
          },
          (err: unknown) => Object.assign(c, { state: 'failed', error: err }),
        );
        return 1;
      }
      this.writer = made;
    } catch (err) {
      return this.failOpen(err);
    }
    return this.started();
  }

  private started(): number {
    this.stateValue = RecordingSessionState.RECORDING;
    this.counters.addChannel(this.channel, 'recordings');
    this.onStarted?.(this);
    return 1;
  }

  private failOpen(err: unknown): number {
    this.stateValue = RecordingSessionState.FAILED;
    this.stopReason = 'ERROR';
    this.errorCode = isVcrError(err) ? err.code : ErrorCode.IO_ERROR;
    this.errorMessage = err instanceof Error ? err.message : String(err);
    this.source.close();
    return 1;
  }

  private takeSourceCounters(): void {
    if (this.batchEvents > 0) {
      this.counters.add('events', this.batchEvents);
      this.counters.add('bytes', this.batchBytes);
      this.counters.addChannel(this.channel, 'events', this.batchEvents);
      this.counters.addChannel(this.channel, 'bytes', this.batchBytes);
      this.batchEvents = 0;
      this.batchBytes = 0;
    }
    const c = this.source.counters();
    const drops = c.kernelDrops - this.lastCounters.kernelDrops;
    const oversize = c.oversize - this.lastCounters.oversize;
    const malformed = c.malformed - this.lastCounters.malformed;
    const queueDrops = c.queueDrops - this.lastCounters.queueDrops;
    if (queueDrops > 0) {
      this.droppedEvents += queueDrops;
      this.counters.add('queueDrops', queueDrops);
      this.counters.addChannel(this.channel, 'queueDrops', queueDrops);
    }
    if (drops > 0) {
      this.kernelDrops += drops;
      this.counters.add('kernelDrops', drops);
      this.counters.addChannel(this.channel, 'kernelDrops', drops);
    }
    if (oversize > 0) {
      this.droppedEvents += oversize;
      this.counters.add('oversize', oversize);
      this.counters.addChannel(this.channel, 'oversize', oversize);
    }
    if (malformed > 0) {
      this.counters.add('sourceMalformed', malformed);
      this.counters.add('malformed', malformed);
      this.counters.addChannel(this.channel, 'malformed', malformed);
    }
    this.lastCounters = { ...c };
  }

  /** Progress to report now, or undefined (not due, or nothing changed since the last one). */
  progressDue(nowMonoNs: bigint):
    | { recordingId: number; position: number; eventCount: number; lastUtcNs: bigint; kernelDrops: number; droppedEvents: number }
    | undefined {
    if (this.stateValue !== RecordingSessionState.RECORDING || nowMonoNs < this.nextProgressNs) return undefined;
    this.nextProgressNs = nowMonoNs + this.progressIntervalNs;
    const drops = this.kernelDrops + this.droppedEvents;
    if (this.position === this.reported.position && drops === this.reported.drops) return undefined;
    this.reported = { position: this.position, drops };
    return {
      recordingId: this.recordingId,
      position: this.position,
      eventCount: this.eventCount,
      lastUtcNs: this.lastUtcNs,
      kernelDrops: this.kernelDrops,
      droppedEvents: this.droppedEvents,
    };
  }

  /** Appends what the source has (one batch), commits it, and takes the source's counters. */
  private drain(): number {
    const n = this.source.poll(this.onEvent, this.batchLimit);
    if (n > 0) {
      try {
        this.writer!.commit();
      } catch (err) {
        this.appendError ??= err;
      }
    }
    this.takeSourceCounters();
    return n;
  }

  /**
   * Stops on request (or shutdown): records what the source already has first, including a
   * last record without separator (flagged UNTERMINATED), as a finite source does at its end.
   */
  stop(reason: StopReasonName): void {
    if (this.stateValue === RecordingSessionState.RECORDING) {
      this.drain();
      if (this.source.flush(this.onEvent) > 0) {
        try {
          this.writer!.commit();
        } catch (err) {
          this.appendError ??= err;
        }
        this.takeSourceCounters();
      }
      if (this.appendError !== undefined) {
        this.finish('ERROR', this.appendError);
        return;
      }
    }
    this.finish(reason);
  }

  private finish(reason: StopReasonName, err?: unknown): void {
    if (this.isDone()) return;
    const failed = err !== undefined;
    this.stopReason = reason;
    if (failed) {
      this.errorCode = isVcrError(err) ? err.code : ErrorCode.IO_ERROR;
      this.errorMessage = err instanceof Error ? err.message : String(err);
    }
    this.stopUtcNs = !this.datesOwnEvents ? this.clock.utcNs() : this.lastUtcNs > this.startUtcNs ? this.lastUtcNs : this.startUtcNs;
    this.source.close();
    if (this.writer) {
      try {
        this.writer.stop(this.stopUtcNs);
      } catch (stopErr) {
        // The recording already failed or the disk refuses the final metadata write: the
        // archive's recovery on the next start fixes the stop position from the segments.
        if (!failed) {
          this.errorCode = isVcrError(stopErr) ? stopErr.code : ErrorCode.IO_ERROR;
          this.errorMessage = stopErr instanceof Error ? stopErr.message : String(stopErr);
          this.stopReason = 'ERROR';
        }
      }
    }
    this.stateValue = failed || this.stopReason === 'ERROR' ? RecordingSessionState.FAILED : RecordingSessionState.STOPPED;
  }

  /**
   * Ends the session because its doWork threw something unexpected (the SessionWorker caught
   * it): state FAILED with the error's code, like a storage failure.
   */
  fail(err: unknown): void {
    this.finish('ERROR', isVcrError(err) ? err : new VcrError(ErrorCode.GENERIC, err instanceof Error ? err.message : String(err)));
  }

  /** Shutdown: what the source already delivered is recorded first (stop('SHUTDOWN')). */
  close(): void {
    if (this.isActive()) this.stop('SHUTDOWN');
  }
}

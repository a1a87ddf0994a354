/**
 * A replay to UDP: one or more recordings, each to its own destination, merged in UTC order
 * and paced by the recorded times divided by `speed` (0 = as fast as possible). A
 * ReplayRequest is the one-stream case (position + length), a TimeReplayRequest the merged one
 * (every recording of the named channels that overlaps the interval).
 *
 * Pacing keeps a replay timeline: the gap between two consecutive events is the gap of their
 * monotonic times when both come from the same recording (monotonic times of different
 * recordings may come from different archiver runs), else the gap of their UTC times. An event
 * is due at start + timeline / speed. Each doWork() sends a bounded batch so recording is
 * never starved, and holds back while too many sends are still in flight. The events of one
 * doWork() go out together: senders are flushed once at its end (at speed 0 that is a whole
 * batch per syscall; at speed > 0 only the events that were due).
 */
import type { Session } from '../agent/agent.js';
import { compareMergeOrder } from '../util/merge-order.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import type { StopReasonName } from './notification-proxy.js';
import type { RecordingReaderPort } from './ports.js';
import type { UdpEndpoint } from './udp-endpoint.js';

/** How long after `to` a quiet live recording is still waited for (events queued in its source). */
const LIVE_END_GRACE_NS = 1_000_000_000n;

export const ReplaySessionState = {
  OPENING: 'OPENING',
  REPLAYING: 'REPLAYING',
  DONE: 'DONE',
} as const;
export type ReplaySessionState = (typeof ReplaySessionState)[keyof typeof ReplaySessionState];

export interface ReplaySender {
  readonly inFlight: number;
  send(buf: Buffer, port: number, host: string): void;
  /**
   * Sends what send() queued (a batching sender gathers one duty cycle's events and sends
   * them with one syscall here). Optional: a sender without it sends in send().
   */
  flush?(): void;
  /** 'pending' while the socket is being set up, then 'ready' or the error that failed it. Optional: ready. */
  readiness?(): 'pending' | 'ready' | Error;
  close(): void;
}

export interface ReplayStream {
  recordingId: number;
  reader: RecordingReaderPort;
  destination: UdpEndpoint;
  sender: ReplaySender;
  /** Replay stops at this position (exclusive); Infinity: no limit. */
  endPosition: number;
}

interface Head {
  payload: Buffer;
  position: number;
  utcNs: bigint;
  monoNs: bigint;
}

interface StreamState extends ReplayStream {
  head: Head | undefined;
  exhausted: boolean;
}

export interface ReplayOptions {
  speed: number;
  follow: boolean;
  toUtcNs: bigint | null;
  /** Events sent per doWork() at most. */
  batchLimit?: number;
  /** Sends in flight per sender before the session holds back. */
  maxInFlight?: number;
  /**
   * A time replay with follow: recordings of its channels that start later are added, so the
   * session does not end when its current streams do; it ends once UTC passes toUtcNs.
   */
  awaitNewRecordings?: boolean;
  /**
   * UTC now (ns). With a toUtcNs it lets the session end once `to` has passed: a quiet live
   * recording is given up 1 s after `to`, and awaitNewRecordings stops waiting at `to`.
   */
  nowUtcNs?: () => bigint;
  /**
   * Senders of destinations that streams may be added for later (awaitNewRecordings): the
   * session waits for them to be ready too, and closes them when it ends.
   */
  senders?: ReplaySender[];
}

export class ReplaySession implements Session {
  private stateValue: ReplaySessionState = ReplaySessionState.OPENING;
  private readonly streams: StreamState[];
  eventsSent = 0;
  bytesSent = 0;
  endReason: StopReasonName | undefined;
  errorCode: number = ErrorCode.OK;
  errorMessage = '';
  private startMonoNs: bigint | undefined;
  private timelineNs = 0n;
  private last: { recordingId: number; utcNs: bigint; monoNs: bigint } | undefined;
  private readonly batchLimit: number;
  private readonly maxInFlight: number;
  private pollTarget: StreamState | undefined;
  private wasStarted = false;
  /** Called once when every sender is ready and the replay starts sending. */
  onStarted: ((rp: ReplaySession) => void) | undefined;

  private readonly onFrame = (buffer: Buffer, off: number, len: number, position: number, utcNs: bigint, monoNs: bigint): void => {
    const payload = Buffer.allocUnsafe(len);
    buffer.copy(payload, 0, off, off + len);
    this.pollTarget!.head = { payload, position, utcNs, monoNs };
  };

  constructor(
    readonly sessionId: number,
    streams: ReplayStream[],
    private readonly options: ReplayOptions,
    private readonly monoNs: () => bigint,
  ) {
    this.streams = streams.map((s) => ({ ...s, head: undefined, exhausted: false }));
    this.batchLimit = options.batchLimit ?? 256;
    this.maxInFlight = options.maxInFlight ?? 2048;
  }

  get state(): ReplaySessionState {
    return this.stateValue;
  }

  get recordingCount(): number {
    return this.streams.length;
  }

  /** Recordings this session replays (or has replayed). */
  get recordingIds(): number[] {
    return this.streams.map((s) => s.recordingId);
  }

  /** Whether the session got past OPENING (false: it failed before sending anything). */
  get started(): boolean {
    return this.wasStarted;
  }

  isDone(): boolean {
    return this.stateValue === ReplaySessionState.DONE;
  }

  /** Adds a recording to a time replay with follow (merged from the next doWork on). */
  addStream(stream: ReplayStream): void {
    if (this.isDone()) {
      stream.reader.close();
      return;
    }
    this.streams.push({ ...stream, head: undefined, exhausted: false });
  }

  doWork(): number {
    if (this.isDone()) return 0;
    if (this.stateValue === ReplaySessionState.OPENING) {
      const w = this.checkReady();
      if (!this.wasStarted || this.isDone()) return w;
    }
    let work = 0;
    try {
      work = this.sendDue();
    } finally {
      this.flushSenders();
    }
    return work;
  }

  private allSenders(): ReplaySender[] {
    const all = new Set<ReplaySender>(this.options.senders ?? []);
    for (const s of this.streams) all.add(s.sender);
    return [...all];
  }

  private checkReady(): number {
    let pending = false;
    for (const sender of this.allSenders()) {
      const r = sender.readiness?.() ?? 'ready';
      if (r === 'pending') pending = true;
      else if (r !== 'ready') {
        this.finish('ERROR', r);
        return 1;
      }
    }
    if (pending) return 0;
    this.stateValue = ReplaySessionState.REPLAYING;
    this.wasStarted = true;
    this.onStarted?.(this);
    return 1;
  }

  private flushSenders(): void {
    for (const s of this.streams) s.sender.flush?.();
  }

  private sendDue(): number {
    let work = 0;
    try {
      while (work < this.batchLimit) {
        const next = this.nextStream();
        if (next === 'wait') break;
        if (next === 'end') {
          this.finish('SOURCE_ENDED');
          return work + 1;
        }
        if (next.sender.inFlight >= this.maxInFlight) {
          next.sender.flush?.();
          if (next.sender.inFlight >= this.maxInFlight) break;
        }
        const head = next.head!;
        if (this.options.speed > 0) {
          // speed 0 needs no timeline: skipping it saves a clock read and bigint work per event
          const timeline = this.timelineAt(next.recordingId, head);
          const now = this.monoNs();
          if (this.startMonoNs === undefined) this.startMonoNs = now;
          if (now < this.startMonoNs + scaleNs(timeline, this.options.speed)) break;
          this.last = { recordingId: next.recordingId, utcNs: head.utcNs, monoNs: head.monoNs };
          this.timelineNs = timeline;
        }
        next.sender.send(head.payload, next.destination.port, next.destination.host);
        this.eventsSent++;
        this.bytesSent += head.payload.length;
        next.head = undefined;
        work++;
      }
    } catch (err) {
      this.finish('ERROR', err);
      return work + 1;
    }
    return work;
  }

  /** Recorded time since the first event sent, at head (gaps never negative). */
  private timelineAt(recordingId: number, head: Head): bigint {
    if (this.last === undefined) return 0n;
    const gap = this.last.recordingId === recordingId ? head.monoNs - this.last.monoNs : head.utcNs - this.last.utcNs;
    return this.timelineNs + (gap > 0n ? gap : 0n);
  }

  /** The stream whose head is earliest, 'wait' when a live stream has nothing yet, 'end' when all are done. */
  private nextStream(): StreamState | 'wait' | 'end' {
    let best: StreamState | undefined;
    let waiting = false;
    for (const s of this.streams) {
      if (s.exhausted) continue;
      if (!s.head) this.fill(s);
      if (s.exhausted) continue;
      if (!s.head) {
        waiting = true;
        continue;
      }
      if (!best || compareMergeOrder(s.head.utcNs, s.recordingId, s.head.position, best.head!.utcNs, best.recordingId, best.head!.position) < 0) best = s;
    }
    if (best) return best;
    if (waiting) return 'wait';
    if (this.options.awaitNewRecordings && !this.pastEnd()) return 'wait';
    return 'end';
  }

  /** UTC is beyond toUtcNs (+ grace): nothing recorded from now on can be in the interval. */
  private pastEnd(graceNs = 0n): boolean {
    const to = this.options.toUtcNs;
    return to !== null && this.options.nowUtcNs !== undefined && this.options.nowUtcNs() > to + graceNs;
  }

  private fill(s: StreamState): void {
    this.pollTarget = s;
    const n = s.reader.poll(this.onFrame, 1);
    this.pollTarget = undefined;
    if (n === 0 || !s.head) {
      // done: the reader reached its end; a live recording that is quiet past `to` (with a
      // grace for events still queued in its source) has nothing more to give this replay; a
      // reader that is not done and not live is waiting for bytes (cluster: being fetched)
      if (s.reader.isDone() || this.pastEnd(LIVE_END_GRACE_NS)) s.exhausted = true;
      return;
    }
    const h = s.head;
    const beyondTime = this.options.toUtcNs !== null && h.utcNs > this.options.toUtcNs;
    if (h.position >= s.endPosition || beyondTime) {
      s.head = undefined;
      s.exhausted = true;
    }
  }

  stop(reason: StopReasonName): void {
    this.finish(reason);
  }

  /** Ends the session because its doWork threw something unexpected (state DONE, reason ERROR). */
  fail(err: unknown): void {
    this.finish('ERROR', err ?? new Error('replay failed'));
  }

  private finish(reason: StopReasonName, err?: unknown): void {
    if (this.isDone()) return;
    this.endReason = err === undefined ? reason : 'ERROR';
    if (err !== undefined) {
      this.errorCode = isVcrError(err) ? err.code : ErrorCode.IO_ERROR;
      this.errorMessage = err instanceof Error ? err.message : String(err);
    }
    for (const s of this.streams) {
      try {
        s.reader.close();
      } catch {
        // closing a reader must not stop the others from closing
      }
    }
    for (const sender of this.allSenders()) sender.close();
    this.stateValue = ReplaySessionState.DONE;
  }

  close(): void {
    this.finish('SHUTDOWN');
  }
}

/** Recorded nanoseconds divided by speed (> 0). */
export function scaleNs(ns: bigint, speed: number): bigint {
  if (speed === 1) return ns;
  return BigInt(Math.round(Number(ns) / speed));
}

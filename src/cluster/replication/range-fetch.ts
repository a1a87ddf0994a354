/**
 * Copies frames of one segment from other nodes into a copy file, window by window (§5.5, §9):
 * FetchRequest {from: the file's next position, toPosition: from + window, or the sealed end
 * for the last window (which also asks for the deletion log), or 0 = the live end while the
 * segment is open}, frames written as they come (each batch checked, see SegmentCopyFile),
 * then FetchEnd. Windows keep every request short (a lost holder costs at most one window) and
 * let a token bucket pace the copy: a window is asked for only when its bytes can be taken.
 *
 * A holder that is lost (connection down), refuses (UNAVAILABLE, ERROR), stalls, sends a bad
 * frame (CRC: it gets a Suspect) or ends short is left for this round and the copy continues
 * from another holder at the same position; RESTART (the position is not a frame start on the
 * holder: a deletion merged frames) rewinds the file to the segment's first frame. After
 * `maxRounds` rounds without a holder the fetch fails with REPLICA_UNAVAILABLE.
 *
 * A holder whose copy is a tombstone (every frame deleted, FORMAT.md "Segment states") has no
 * frames to send: it answers OK at the segment's end without a frame to get there, which no
 * other copy can (a copy's last frame, PADDING or not, always comes with the answer). The
 * fetch then ends as a tombstone (`tombstone`): the frames in the file describe nothing, the
 * holder's deletion log is the copy (asked for once more from the segment's end when the
 * window that met the tombstone did not bring it).
 */
import { FetchCode } from '../../../codecs/generated/replication/index.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { PeerQueries } from './peer-queries.js';
import type { ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';
import type { AnswerSink, RequestRegistry } from './request-registry.js';
import { AppendStatus, type SegmentCopyFile } from './segment-copy-file.js';
import type { TokenBucket } from './token-bucket.js';

export interface RangeFetchTarget {
  recordingId: number;
  base: number;
  /** the sealed end, or undefined while the segment is open (windows then go to the holder's live end) */
  end(): number | undefined;
  /** nodes that may serve the segment, in preference order */
  holders(): string[];
  /** ask for the segment's deletion log with the last window (a copy for the replica set) */
  withDeletionLog: boolean;
}

export interface RangeFetchOptions {
  windowBytes?: number;
  bucket?: TokenBucket;
  /** no message for a window this long: the holder is left, default 10,000 ms */
  stallMs?: number;
  /** while the segment is open: wait this long after reaching the live end, default 50 ms */
  livePollMs?: number;
  /** rounds over every holder before giving up, default 3 */
  maxRounds?: number;
  /** pause between rounds, default 500 ms */
  roundPauseMs?: number;
}

export const RangeFetchState = { RUNNING: 'RUNNING', DONE: 'DONE', FAILED: 'FAILED' } as const;
export type RangeFetchState = (typeof RangeFetchState)[keyof typeof RangeFetchState];

interface Window {
  holder: string;
  requestId: number;
  from: number;
  final: boolean;
  live: boolean;
  log: Buffer[];
}

export class RangeFetch implements AnswerSink {
  state: RangeFetchState = RangeFetchState.RUNNING;
  error: VcrError | undefined;
  /** the holder's deletion log, after a final window with the log */
  deletionLog: Buffer = Buffer.alloc(0);
  /** holders whose frames (or, for a tombstone, deletion log) went into the copy */
  readonly contributors = new Set<string>();
  restarts = 0;
  /** a holder's copy is a tombstone: the copy is `deletionLog` alone, the file's frames are not part of it */
  tombstone = false;
  private current: Window | undefined;
  private readonly left = new Set<string>();
  private rounds = 0;
  private roundStartMs: number;
  private waitUntilMs = 0;
  private lastHeardMs = 0;
  private readonly windowBytes: number;
  private readonly stallMs: number;
  private readonly livePollMs: number;
  private readonly maxRounds: number;
  private readonly roundPauseMs: number;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly requests: RequestRegistry,
    private readonly queries: PeerQueries,
    readonly file: SegmentCopyFile,
    private readonly target: RangeFetchTarget,
    /** where a RESTART starts over (the segment's first frame) */
    private readonly restartAt: number,
    private readonly options: RangeFetchOptions = {},
  ) {
    this.windowBytes = options.windowBytes ?? 4 * 1024 * 1024;
    this.stallMs = options.stallMs ?? 10_000;
    this.livePollMs = options.livePollMs ?? 50;
    this.maxRounds = options.maxRounds ?? 3;
    this.roundPauseMs = options.roundPauseMs ?? 500;
    this.roundStartMs = ctx.nowMs();
  }

  get done(): boolean {
    return this.state !== RangeFetchState.RUNNING;
  }

  /** The holder the current window is asked of. */
  get holder(): string | undefined {
    return this.current?.holder;
  }

  doWork(): number {
    if (this.state !== RangeFetchState.RUNNING) return 0;
    const now = this.ctx.nowMs();
    if (this.current) {
      if (now - this.lastHeardMs > this.stallMs) {
        this.leave(this.current.holder, 'stalled');
        return 1;
      }
      return 0;
    }
    if (now < this.waitUntilMs) return 0;
    const end = this.target.end();
    const f = this.file;
    if (!this.tombstone && end !== undefined && f.end >= end && (f.complete || f.end > end)) {
      this.finish();
      return 1;
    }
    const holder = this.pickHolder(now);
    if (holder === undefined) return 0;
    const c = this.ctx.network.connection(holder)!;
    // a tombstone met in a window without its log: ask for the log alone (nothing is left to copy)
    const from = this.tombstone ? f.segmentEnd : f.next;
    const final = this.tombstone || (end !== undefined && from + this.windowBytes >= end);
    const to = this.tombstone ? f.segmentEnd : end === undefined ? 0 : final ? end : from + this.windowBytes;
    const bucket = this.options.bucket;
    if (bucket) {
      const need = to === 0 ? this.windowBytes : Math.max(0, to - from);
      if (!bucket.tryTake(need, now)) {
        this.waitUntilMs = now + Math.max(1, bucket.waitMs(need, now));
        return 0;
      }
    }
    const requestId = this.requests.newId();
    const withDeletionLog = final && this.target.withDeletionLog;
    if (!this.proxy.fetchRequest(c, { requestId, recordingId: this.target.recordingId, base: this.target.base, position: from, toPosition: to, withDeletionLog })) return 0;
    this.requests.add(requestId, holder, this);
    this.current = { holder, requestId, from, final, live: end === undefined, log: [] };
    this.lastHeardMs = now;
    return 1;
  }

  /** Stops: the current window's answers are ignored from now on. */
  cancel(): void {
    if (this.current) this.requests.remove(this.current.requestId);
    this.current = undefined;
    if (this.state === RangeFetchState.RUNNING) this.fail(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, 'fetch cancelled'));
  }

  onFrames(position: number, bytes: Buffer, offset: number, length: number): void {
    const w = this.current;
    if (!w) return;
    this.lastHeardMs = this.ctx.nowMs();
    let status: AppendStatus;
    try {
      const r = this.file.append(position, bytes, offset, length);
      status = r.status;
      if (r.stored > 0) this.contributors.add(w.holder);
    } catch (err) {
      this.requests.remove(w.requestId);
      this.current = undefined;
      this.fail(err as VcrError);
      return;
    }
    if (status === AppendStatus.OK) return;
    if (status === AppendStatus.BAD_CRC) {
      this.ctx.log.warn({ recordingId: this.target.recordingId, base: this.target.base, holder: w.holder, position: this.file.next }, 'fetched frame failed its CRC; holder suspected, fetch goes on from another');
      this.queries.suspect(w.holder, this.target.recordingId, this.target.base);
    }
    this.leave(w.holder, `frames at ${position} do not continue the copy (${status})`);
  }

  onDeletionLogPart(bytes: Uint8Array): void {
    if (!this.current) return;
    this.lastHeardMs = this.ctx.nowMs();
    this.current.log.push(Buffer.from(bytes));
  }

  onFetchEnd(code: FetchCode, position: number, deletionLog: Uint8Array, message: string): void {
    const w = this.current;
    if (!w) return;
    this.requests.remove(w.requestId);
    this.current = undefined;
    const f = this.file;
    switch (code) {
      case FetchCode.OK:
        break;
      case FetchCode.RESTART:
        if (++this.restarts > 3) return this.fail(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `fetch restarted ${this.restarts} times`));
        this.ctx.log.info({ recordingId: this.target.recordingId, base: this.target.base, holder: w.holder, position: w.from }, 'holder merged frames at the resume position; fetch restarts from the segment start');
        this.tombstone = false;
        f.rewindTo(this.restartAt);
        return;
      default:
        this.leave(w.holder, message || `answered ${FetchCode[code] ?? code}`);
        return;
    }
    if (this.tombstone || (position === f.segmentEnd && position !== f.next && !f.complete)) return this.onTombstone(w, deletionLog);
    if (position !== f.next) return this.leave(w.holder, `ended at ${position}, the copy is at ${f.next}`);
    if (w.final) {
      const end = this.target.end()!;
      if (f.end < end) return this.leave(w.holder, `its copy ends at ${f.end}, before the sealed end ${end}`);
      this.deletionLog = Buffer.concat([...w.log, Buffer.from(deletionLog)]);
      this.finish();
      return;
    }
    if (w.live) {
      if (f.complete) return this.finish();
      if (f.next === w.from) this.waitUntilMs = this.ctx.nowMs() + this.livePollMs; // at the live end: poll
      return;
    }
    if (f.next === w.from) this.leave(w.holder, 'sent nothing');
  }

  onLost(error: VcrError): void {
    const w = this.current;
    if (!w) return;
    this.current = undefined;
    this.leave(w.holder, error.message);
  }

  /** The holder's copy is a tombstone: done once its deletion log is here (or not wanted). */
  private onTombstone(w: Window, deletionLog: Uint8Array): void {
    if (!this.tombstone) this.ctx.log.info({ recordingId: this.target.recordingId, base: this.target.base, holder: w.holder }, 'every frame of the segment was deleted on the holder: the copy is a tombstone');
    this.tombstone = true;
    if (this.target.withDeletionLog && !w.final) return; // the next window asks for the log
    this.deletionLog = Buffer.concat([...w.log, Buffer.from(deletionLog)]);
    this.contributors.clear(); // frames some holder sent before are not part of a tombstone
    this.contributors.add(w.holder);
    this.finish();
  }

  private finish(): void {
    this.state = RangeFetchState.DONE;
  }

  private fail(error: VcrError): void {
    this.state = RangeFetchState.FAILED;
    this.error = error;
  }

  /** Leaves `holder` for this round (the current window, if it is that holder's, is abandoned). */
  private leave(holder: string, why: string): void {
    if (this.current?.holder === holder) {
      this.requests.remove(this.current.requestId);
      this.current = undefined;
    }
    this.left.add(holder);
    this.ctx.log.info({ recordingId: this.target.recordingId, base: this.target.base, holder, why }, 'fetch leaves a holder');
  }

  /**
   * A connected holder not left this round. Holders not connected yet are waited for until
   * `stallMs` into the round; when none is left, a new round starts after a pause.
   */
  private pickHolder(now: number): string | undefined {
    const holders = this.target.holders().filter((n) => n !== this.ctx.self);
    const untried = holders.filter((n) => !this.left.has(n));
    const ready = untried.find((n) => this.ctx.network.connection(n) !== undefined);
    if (ready !== undefined) return ready;
    if (untried.length > 0 && now - this.roundStartMs < this.stallMs) return undefined; // connecting
    this.rounds++;
    if (this.rounds >= this.maxRounds || holders.length === 0) {
      this.fail(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `no holder of segment ${this.target.base} of recording ${this.target.recordingId} could serve it (${holders.join(', ') || 'none known'})`));
      return undefined;
    }
    this.left.clear();
    this.waitUntilMs = now + this.roundPauseMs;
    this.roundStartMs = this.waitUntilMs;
    return undefined;
  }
}

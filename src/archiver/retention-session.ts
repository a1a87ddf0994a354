/**
 * One retention pass (docs/ARCHIVER.md "Retention"), a session stepped by the archiver's duty
 * cycle with bounded work per doWork(): for each channel some limit applies to, find its cut
 * (max age, max bytes: the later one wins), count the events before it that no hold covers
 * (and, in a dry run, what each hold keeps) by reading them, then delete them through the
 * archive's own delete path — the same `deleteEvents` a DeleteRequest runs, so a cluster
 * commits the deletion in etcd and every node applies it, and holds are decided where every
 * delete decides them. A dry run stops before deleting.
 *
 * A channel with many expired events is deleted in chunks of about CHUNK_EVENTS events per
 * recording (boundaries found while counting), one chunk per step, so no duty cycle spends
 * long in the deleter. An error on one channel (a segment no node can serve, a store failure)
 * is logged, counted and the channel is passed over until the next pass; the others go on.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiverLog } from './archiver-services.js';
import type { ArchiveStore, RecordingInfo, RecordingReaderPort } from './ports.js';
import type { RetentionConfig } from './retention-config.js';
import { BytesCutSearch, ageCut, channelPolicies, holdSpans, holdsFor, overlapsPiece, planPieces, type ChannelPolicy, type HoldSpan, type Piece } from './retention-plan.js';

export const RetentionState = {
  PLANNING: 'PLANNING',
  CUTTING: 'CUTTING',
  COUNTING: 'COUNTING',
  DELETING: 'DELETING',
  DONE: 'DONE',
  CLOSED: 'CLOSED',
} as const;
export type RetentionState = (typeof RetentionState)[keyof typeof RetentionState];

export type RetentionLimitName = 'maxAge' | 'maxBytes';

/** One interval of one channel in a pass: what goes (delete) or what a hold keeps (held). Half-open. */
export interface RetentionEntry {
  channel: string;
  kind: 'delete' | 'held';
  limit: RetentionLimitName;
  cutUtcNs: bigint;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  events: number;
  /** payload bytes */
  bytes: number;
  holdId?: number;
}

export interface RetentionResult {
  runId: number;
  dryRun: boolean;
  requested: boolean;
  startUtcNs: bigint;
  endUtcNs: bigint;
  entries: RetentionEntry[];
  /** events (payload bytes) that went, or would go in a dry run */
  events: number;
  bytes: number;
  /** channels that lost (or would lose) events */
  channels: number;
  errors: { channel: string; code: number; message: string }[];
}

export interface RetentionSessionDeps {
  store: ArchiveStore;
  config: RetentionConfig;
  /** UTC now, ns (the clock events are stamped with) */
  utcNow: () => bigint;
  /** monotonic ns (stall detection) */
  nanoTime: () => bigint;
  log: ArchiverLog;
  /** events per delete call and recording (default CHUNK_EVENTS) */
  chunkEvents?: number;
}

/** Frames counted per doWork. */
const FRAMES_PER_STEP = 16_384;
/** Events per delete call and recording: a chunk boundary is set every so many counted events. */
export const CHUNK_EVENTS = 262_144;
/** A read that delivers nothing (bytes being fetched from another node) for this long fails the channel. */
const STALL_NS = 15_000_000_000n;

interface Target {
  piece: Piece;
  entry: RetentionEntry;
  recording: RecordingInfo;
}

interface Job {
  policy: ChannelPolicy;
  /** the holds that protect the channel, as read when the pass was planned */
  holds: HoldSpan[];
  ageCut: bigint | undefined;
  search: BytesCutSearch | undefined;
  cut: bigint;
  limit: RetentionLimitName;
  entries: RetentionEntry[];
  targets: Target[];
  /** UTC of every CHUNK_EVENTS-th event counted for deletion */
  boundaries: bigint[];
  chunks: [bigint, bigint][];
}

export class RetentionSession {
  state: RetentionState = RetentionState.PLANNING;
  private readonly jobs: Job[] = [];
  private job = 0;
  private target = 0;
  private reader: RecordingReaderPort | undefined;
  private readerFor = -1;
  private counted = 0;
  private position: number | Promise<number> | undefined;
  private lastProgressNs = 0n;
  private waiting: Promise<unknown> | undefined;
  private failure: unknown;
  readonly result: RetentionResult;

  constructor(
    readonly runId: number,
    readonly opts: { dryRun: boolean; requested: boolean },
    private readonly deps: RetentionSessionDeps,
  ) {
    this.result = {
      runId,
      dryRun: opts.dryRun,
      requested: opts.requested,
      startUtcNs: deps.utcNow(),
      endUtcNs: 0n,
      entries: [],
      events: 0,
      bytes: 0,
      channels: 0,
      errors: [],
    };
  }

  isDone(): boolean {
    return this.state === RetentionState.DONE || this.state === RetentionState.CLOSED;
  }

  doWork(): number {
    if (this.isDone()) return 0;
    if (this.waiting) return 0;
    try {
      if (this.failure !== undefined) {
        const f = this.failure;
        this.failure = undefined;
        throw f;
      }
      switch (this.state) {
        case RetentionState.PLANNING:
          return this.plan();
        case RetentionState.CUTTING:
          return this.cutStep();
        case RetentionState.COUNTING:
          return this.countStep();
        case RetentionState.DELETING:
          return this.deleteStep();
        default:
          return 0;
      }
    } catch (err) {
      if (this.state === RetentionState.PLANNING) {
        this.fail('', err);
        this.finish();
      } else this.failJob(err);
      return 1;
    }
  }

  close(): void {
    this.closeReader();
    if (!this.isDone()) {
      this.state = RetentionState.CLOSED;
      this.result.endUtcNs = this.deps.utcNow();
    }
  }

  // ---------------------------------------------------------------- steps

  private plan(): number {
    const { store, config } = this.deps;
    const now = this.deps.utcNow();
    const holds = holdSpans(store.listQuarantines());
    for (const policy of channelPolicies(config, store.listRecordings())) {
      const { group, limits } = policy;
      const search =
        limits.maxBytes !== undefined ? new BytesCutSearch(group.recordings, limits.maxBytes, group.oldestUtcNs, now, (id, t) => store.findPosition(id, t)) : undefined;
      // holds are read once, at the plan: the delete path reads them again when it commits
      this.jobs.push({
        policy,
        holds: holdsFor(group, holds),
        ageCut: limits.maxAgeMs !== undefined ? ageCut(now, limits.maxAgeMs) : undefined,
        search,
        cut: 0n,
        limit: 'maxAge',
        entries: [],
        targets: [],
        boundaries: [],
        chunks: [],
      });
    }
    this.startJob();
    return 1;
  }

  private cutStep(): number {
    const j = this.jobs[this.job]!;
    const work = j.search && !j.search.done ? j.search.step() : 0;
    if (j.search && !j.search.done) return work;
    const byAge = j.ageCut;
    const byBytes = j.search?.cut;
    if (byAge === undefined && byBytes === undefined) return this.nextJob();
    if (byBytes !== undefined && (byAge === undefined || byBytes > byAge)) {
      j.cut = byBytes;
      j.limit = 'maxBytes';
    } else {
      j.cut = byAge!;
      j.limit = 'maxAge';
    }
    const from = j.policy.group.oldestUtcNs;
    const pieces = planPieces(from, j.cut, j.holds).filter((p) => this.opts.dryRun || p.kind === 'delete');
    for (const piece of pieces) {
      const entry: RetentionEntry = {
        channel: j.policy.group.channel,
        kind: piece.kind,
        limit: j.limit,
        cutUtcNs: j.cut,
        fromUtcNs: piece.fromUtcNs,
        toUtcNs: piece.toUtcNs,
        events: 0,
        bytes: 0,
        ...(piece.holdId !== undefined ? { holdId: piece.holdId } : {}),
      };
      j.entries.push(entry);
      for (const recording of j.policy.group.recordings) {
        if (overlapsPiece(recording, piece.fromUtcNs, piece.toUtcNs)) j.targets.push({ piece, entry, recording });
      }
    }
    if (j.targets.length === 0) return this.nextJob();
    this.state = RetentionState.COUNTING;
    this.target = 0;
    return work + 1;
  }

  private countStep(): number {
    const j = this.jobs[this.job]!;
    const t = j.targets[this.target];
    if (!t) return this.endCount(j);
    if (!this.reader || this.readerFor !== this.target) {
      if (this.position === undefined) this.position = this.deps.store.findPosition(t.recording.recordingId, t.piece.fromUtcNs);
      if (this.position instanceof Promise) {
        this.await(this.position.then((p) => (this.position = p)));
        return 1;
      }
      this.closeReader();
      this.reader = this.deps.store.openReader(t.recording.recordingId, this.position, false);
      this.readerFor = this.target;
      this.position = undefined;
      this.counted = 0;
      this.lastProgressNs = this.deps.nanoTime();
    }
    let past = false;
    const to = t.piece.toUtcNs;
    const deleting = t.piece.kind === 'delete';
    const chunk = this.deps.chunkEvents ?? CHUNK_EVENTS;
    const n = this.reader.poll((_b, _o, length, _p, utcNs) => {
      if (past || utcNs >= to) {
        past = true;
        return;
      }
      t.entry.events++;
      t.entry.bytes += length;
      this.counted++;
      if (deleting && this.counted % chunk === 0) j.boundaries.push(utcNs);
    }, FRAMES_PER_STEP);
    const now = this.deps.nanoTime();
    if (n > 0) this.lastProgressNs = now;
    if (past || this.reader.isDone()) {
      this.closeReader();
      this.target++;
      return n + 1;
    }
    if (n === 0 && now - this.lastProgressNs > STALL_NS) {
      throw new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `recording ${t.recording.recordingId}: no events could be read for ${Number(STALL_NS / 1_000_000_000n)} s`);
    }
    return n;
  }

  private endCount(j: Job): number {
    const events = j.entries.filter((e) => e.kind === 'delete').reduce((s, e) => s + e.events, 0);
    if (this.opts.dryRun || events === 0) {
      this.report(j);
      return this.nextJob();
    }
    const from = j.policy.group.oldestUtcNs;
    const bounds = [...new Set(j.boundaries)].filter((b) => b > from && b < j.cut).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let prev = from;
    for (const b of bounds) {
      j.chunks.push([prev, b]);
      prev = b;
    }
    j.chunks.push([prev, j.cut]);
    this.state = RetentionState.DELETING;
    return 1;
  }

  private deleteStep(): number {
    const j = this.jobs[this.job]!;
    const chunk = j.chunks.shift();
    if (!chunk) {
      const { events, bytes } = this.report(j);
      this.deps.log.info({ runId: this.runId, channel: j.policy.group.channel, limit: j.limit, cutUtcNs: j.cut.toString(), events, bytes }, 'retention deleted');
      return this.nextJob();
    }
    // the port's intervals are closed, like the protocol's: [from, to - 1] is storage's [from, to)
    const r = this.deps.store.deleteEvents(j.policy.group.channel, chunk[0], chunk[1] - 1n);
    if (r instanceof Promise) this.await(r);
    return 1;
  }

  // ---------------------------------------------------------------- helpers

  private startJob(): void {
    if (this.job >= this.jobs.length) {
      this.finish();
      return;
    }
    this.state = RetentionState.CUTTING;
    this.target = 0;
  }

  private nextJob(): number {
    this.closeReader();
    this.position = undefined;
    this.job++;
    this.startJob();
    return 1;
  }

  /** A channel's entries and totals go into the result once it is done (a failed channel reports none). */
  private report(j: Job): { events: number; bytes: number } {
    const going = j.entries.filter((e) => e.kind === 'delete');
    const events = going.reduce((s, e) => s + e.events, 0);
    const bytes = going.reduce((s, e) => s + e.bytes, 0);
    for (const e of j.entries) if (e.events > 0) this.result.entries.push(e);
    if (events > 0) {
      this.result.channels++;
      this.result.events += events;
      this.result.bytes += bytes;
    }
    return { events, bytes };
  }

  private failJob(err: unknown): void {
    this.fail(this.jobs[this.job]?.policy.group.channel ?? '', err);
    this.nextJob();
  }

  private fail(channel: string, err: unknown): void {
    const code = err instanceof VcrError ? err.code : ErrorCode.GENERIC;
    const message = err instanceof Error ? err.message : String(err);
    this.result.errors.push({ channel, code, message });
    this.deps.log.warn({ runId: this.runId, channel, code, error: message }, 'retention passed over a channel');
  }

  private await(p: Promise<unknown>): void {
    this.waiting = p;
    p.then(
      () => {
        this.waiting = undefined;
      },
      (err: unknown) => {
        this.waiting = undefined;
        this.position = undefined;
        this.failure = err;
      },
    );
  }

  private finish(): void {
    this.closeReader();
    this.state = RetentionState.DONE;
    this.result.endUtcNs = this.deps.utcNow();
  }

  private closeReader(): void {
    this.reader?.close();
    this.reader = undefined;
    this.readerFor = -1;
  }
}

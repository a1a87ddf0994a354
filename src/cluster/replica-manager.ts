/**
 * Executes one node's replica plan (replica-plan.ts; docs/REPLICATION.md §5.3-5.5, §6): it
 * builds the local inventory from storage, asks the plan what to do, and does it — verify a
 * copy's digest, join or leave a replica set (one fenced transaction each), drop a surplus
 * copy (leave first, then the file), delete bytes no record accounts for, fetch what the
 * placement asks for — then applies committed deletions to copies verified this boot.
 *
 * Level-triggered: every pass starts from the current view and the current files, so a crash
 * or a lost write between two steps is simply found again on the next pass. One pass at a time;
 * fetches run beside it (at most `maxFetches`).
 */
import type { Archive } from '../storage/archive.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import { KEY, type ClusterRecording, type ReplicaEntry } from './cluster-keys.js';
import { namedRecordings } from './deletion-filter.js';
import type { ClusterView } from './cluster-view.js';
import type { ClusterWrites } from './cluster-writes.js';
import type { Compare } from './etcd-store.js';
import type { Membership } from './membership.js';
import { localKey, planReplicaActions, type LocalSegment, type ReplicaAction } from './replica-plan.js';

/** Copies a sealed segment from a holder and installs it (the data path). */
export interface SegmentFetcherPort {
  fetch(req: { recordingId: number; base: number; from: number; end: number; digest: string; holders: string[] }): Promise<unknown>;
}

export interface ReplicaLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const PASS_MS = 300;

export class ReplicaManager {
  /** segments whose local copy was checked against its record's digest since this process started */
  private readonly verified = new Set<string>();
  private readonly fetching = new Set<string>();
  /** sole copies whose digest did not match (logged once; kept) */
  private readonly lastCopyMismatch = new Set<string>();
  private busy = false;
  private nextPassMs = 0;
  /** true once a pass found nothing left to verify (deletions apply only to verified copies) */
  settled = false;
  fetcher: SegmentFetcherPort | undefined;
  readonly stats = { verified: 0, joined: 0, left: 0, dropped: 0, deleted: 0, fetched: 0, corrupt: 0, deletionsApplied: 0 };

  constructor(
    private readonly view: ClusterView,
    private readonly writes: ClusterWrites,
    private readonly member: Membership,
    private readonly archive: Archive,
    private readonly k: number,
    private readonly nowMs: () => number,
    private readonly log: ReplicaLog,
    private readonly isRecordingHere: (recordingId: number) => boolean,
    /** fetches handed to the fetcher at once (it copies a few at a time; a queue there starts the next without waiting for a pass) */
    private readonly maxFetches = 8,
  ) {}

  isVerified(recordingId: number, base: number): boolean {
    return this.verified.has(localKey(recordingId, base));
  }

  /** A copy found bad elsewhere (a reader's CRC check, a Suspect): verify it again. */
  suspect(recordingId: number, base: number): void {
    this.verified.delete(localKey(recordingId, base));
  }

  doWork(): number {
    const now = this.nowMs();
    if (this.busy || now < this.nextPassMs || !this.member.ready || !this.member.trusted()) return 0;
    this.nextPassMs = now + PASS_MS;
    this.busy = true;
    this.pass()
      .catch((err: unknown) => this.log.warn({ error: err instanceof Error ? err.message : String(err) }, 'replica pass failed'))
      .finally(() => {
        this.busy = false;
      });
    return 1;
  }

  /** The local copies of every recording the view knows (descriptors installed as needed). */
  inventory(): Map<string, LocalSegment> {
    const out = new Map<string, LocalSegment>();
    for (const { value: r } of this.view.recordings.values()) {
      if (!this.ensureDescriptor(r)) continue;
      let listing;
      try {
        listing = this.archive.listSegments(r.recordingId);
      } catch {
        continue;
      }
      for (const l of listing) {
        const key = localKey(r.recordingId, l.base);
        const s = this.view.segment(r.recordingId, l.base)?.value;
        const end = l.end ?? (s ? s.end : l.base + r.segmentLength);
        out.set(key, { recordingId: r.recordingId, base: l.base, state: l.state, end, verified: this.verified.has(key) });
      }
    }
    return out;
  }

  /** Installs or refreshes the local descriptor of a recording made elsewhere; false if it cannot. */
  ensureDescriptor(r: ClusterRecording): boolean {
    if (this.isRecordingHere(r.recordingId)) return true;
    let local;
    try {
      local = this.archive.describe(r.recordingId);
    } catch {
      local = undefined;
    }
    // frames this node recorded past a fenced end wait for their continuation recording (§7):
    // the local descriptor keeps them readable until they are copied there
    if (local && awaitsContinuation(this.view, r, this.member.node, local.stopPosition, this.member.lease)) return false;
    // this node's own recording, not yet published as stopped (the reconciler writes the final state
    // a moment after the local stop): the local descriptor is the newer one, and installing the
    // stale record would cut the local end back and make the recorder's own copy fail verification
    if (local && r.owner.node === this.member.node && (r.state === 'recording' || r.state === 'fencing')) return true;
    const stopped = r.state === 'stopped' || r.state === 'failed';
    // A live recording's record says how far it was at its last progress write, which lags its
    // seals: copies of sealed segments past it are fetched or mirrored here all the same. The
    // local end covers every sealed segment, so the inventory sees those copies (else the next
    // pass finds them "missing" and leaves their replica sets while the files are here), and it
    // never moves back while the recording is live: only a stop (or a fence's stop) does that.
    let stopPosition = r.stopPosition;
    if (!stopped) for (const s of this.view.segmentsOf(r.recordingId)) if (s.value.state === 'sealed' && s.value.end > stopPosition) stopPosition = s.value.end;
    if (local && !stopped && local.lifecycle === 'recording' && local.stopPosition >= stopPosition) return true;
    if (local && local.stopPosition === stopPosition && local.lifecycle === (stopped ? r.state : 'recording')) return true;
    try {
      this.archive.installDescriptor({
        recordingId: r.recordingId,
        state: 'valid',
        lifecycle: r.state === 'failed' ? 'failed' : stopped ? 'stopped' : 'recording',
        failureCode: 0,
        startPosition: r.startPosition,
        stopPosition,
        startUtcNs: r.startUtcNs,
        stopUtcNs: r.stopUtcNs,
        startMonoNs: r.startMonoNs,
        stopMonoNs: r.stopMonoNs,
        eventCount: r.eventCount,
        segmentLength: r.segmentLength,
        cleanStop: stopped,
        channel: r.channel,
        aliases: [...r.aliases],
        source: r.source,
      });
      return true;
    } catch (err) {
      if (!isVcrError(err, ErrorCode.RECORDING_ACTIVE)) this.log.warn({ recordingId: r.recordingId, error: (err as Error).message }, 'cannot install a recording descriptor');
      return false;
    }
  }

  private async pass(): Promise<void> {
    const local = this.inventory();
    const actions = planReplicaActions(this.view, this.member.node, this.member.disk, this.k, local);
    this.settled = !actions.some((a) => a.kind === 'verify');
    for (const a of actions) {
      // bytes of a recording this process writes (or is moving into a continuation) are the recorder's
      if ((a.kind === 'delete' || a.kind === 'drop' || a.kind === 'fetch') && this.isRecordingHere(a.recordingId)) continue;
      try {
        if (a.kind === 'fetch') this.startFetch(a);
        else await this.run(a);
      } catch (err) {
        // one segment's trouble does not stop the pass for the others
        this.log.warn({ action: a.kind, recordingId: a.recordingId, base: a.base, error: err instanceof Error ? err.message : String(err) }, 'replica action failed');
      }
    }
    if (this.settled) await this.applyDeletions();
  }

  private me(): ReplicaEntry {
    return { node: this.member.node, disk: this.member.disk };
  }

  private async run(a: Exclude<ReplicaAction, { kind: 'fetch' }>): Promise<void> {
    const key = localKey(a.recordingId, a.base);
    if (this.fetching.has(key)) return;
    const s = this.view.segment(a.recordingId, a.base)?.value;
    switch (a.kind) {
      case 'verify': {
        if (!s) return;
        let ok = false;
        try {
          ok = this.archive.verifySegment(a.recordingId, a.base).digest === s.digest;
        } catch (err) {
          this.log.warn({ recordingId: a.recordingId, base: a.base, error: (err as Error).message }, 'segment copy failed verification');
        }
        if (!ok) {
          this.stats.corrupt++;
          const others = this.view.liveCopies(s).filter((e) => e.node !== this.member.node).length;
          if (others === 0) {
            // never destroy the last copy: with no other verified copy to rebuild from, these bytes
            // are all the cluster has (the record may be what is wrong); they stay, and so does the entry
            if (!this.lastCopyMismatch.has(key)) this.log.warn({ recordingId: a.recordingId, base: a.base }, 'the only copy does not match its recorded digest: kept, not verified');
            this.lastCopyMismatch.add(key);
            return;
          }
          this.log.warn({ recordingId: a.recordingId, base: a.base }, 'local copy does not match the recorded digest: leaving the replica set and deleting it');
          await this.leave(a.recordingId, a.base, this.member.disk);
          // a segment this process writes holds frames past a fenced end: they go to a continuation first
          if (!this.isRecordingHere(a.recordingId)) this.archive.dropSegment(a.recordingId, a.base);
          return;
        }
        this.verified.add(key);
        this.stats.verified++;
        if (a.join) await this.join(a.recordingId, a.base, s.digest);
        return;
      }
      case 'leave':
        await this.leave(a.recordingId, a.base, a.disk);
        this.log.info({ recordingId: a.recordingId, base: a.base, disk: a.disk, why: a.why }, 'left the replica set');
        return;
      case 'drop': {
        const extra: Compare[] = a.holders.map((h) => ({ key: KEY.member(h), target: 'Mod', op: '==', value: this.view.member(h)?.modRevision ?? -1 }));
        const me = this.me();
        const done = await this.writes.updateSegment(
          a.recordingId,
          a.base,
          (cur) => (cur && cur.replicas.some((e) => e.node === me.node && e.disk === me.disk) ? { ...cur, replicas: cur.replicas.filter((e) => !(e.node === me.node && e.disk === me.disk)) } : undefined),
          extra,
        );
        if (done) {
          this.archive.dropSegment(a.recordingId, a.base);
          this.verified.delete(key);
          this.stats.dropped++;
          this.log.info({ recordingId: a.recordingId, base: a.base, holders: a.holders }, 'surplus copy dropped');
        }
        return;
      }
      case 'delete':
        this.archive.dropSegment(a.recordingId, a.base);
        this.verified.delete(key);
        this.stats.deleted++;
        this.log.info({ recordingId: a.recordingId, base: a.base, why: a.why }, 'local bytes deleted');
        return;
      default:
        return;
    }
  }

  private async join(recordingId: number, base: number, digest: string): Promise<void> {
    const me = this.me();
    const done = await this.writes.updateSegment(recordingId, base, (cur) =>
      cur && cur.state === 'sealed' && cur.digest === digest && !cur.replicas.some((e) => e.node === me.node && e.disk === me.disk) ? { ...cur, replicas: [...cur.replicas, me] } : undefined,
    );
    if (done) {
      this.stats.joined++;
      this.log.info({ recordingId, base }, 'joined the replica set');
    }
  }

  private async leave(recordingId: number, base: number, disk: string): Promise<void> {
    const node = this.member.node;
    const done = await this.writes.updateSegment(recordingId, base, (cur) =>
      cur && cur.replicas.some((e) => e.node === node && e.disk === disk) ? { ...cur, replicas: cur.replicas.filter((e) => !(e.node === node && e.disk === disk)) } : undefined,
    );
    if (done) this.stats.left++;
  }

  private startFetch(a: Extract<ReplicaAction, { kind: 'fetch' }>): void {
    const key = localKey(a.recordingId, a.base);
    if (!this.fetcher || this.fetching.has(key) || this.fetching.size >= this.maxFetches) return;
    const s = this.view.segment(a.recordingId, a.base)?.value;
    if (!s) return;
    this.fetching.add(key);
    this.fetcher
      .fetch({ recordingId: a.recordingId, base: a.base, from: a.from, end: s.end, digest: s.digest, holders: a.holders })
      .then(async () => {
        this.verified.add(key);
        this.stats.fetched++;
        await this.join(a.recordingId, a.base, s.digest);
      })
      .catch((err: unknown) => this.log.warn({ recordingId: a.recordingId, base: a.base, error: err instanceof Error ? err.message : String(err) }, 'fetch failed'))
      .finally(() => this.fetching.delete(key));
  }

  /**
   * Committed deletions not applied here yet, applied to this node's (verified) copies: to the
   * recordings each one named at commit (as reads filter them, deletion-filter.ts), never to a
   * recording of the same channel made since, however late this node applies it.
   */
  private async applyDeletions(): Promise<void> {
    const applied = new Set(this.archive.listDeletions().filter((d) => d.external && d.framesDeleted >= 0).map((d) => d.id));
    for (const { value: d } of this.view.deletions.values()) {
      if (applied.has(d.deletionId)) continue;
      try {
        const r = this.archive.deleteEvents({
          ...(d.channel !== undefined ? { channel: d.channel } : {}),
          fromUtcNs: d.fromUtcNs,
          toUtcNs: d.toUtcNs,
          holds: d.holds.map((h) => ({ ...(h.channel !== undefined ? { channel: h.channel } : {}), fromUtcNs: h.fromUtcNs, toUtcNs: h.toUtcNs })),
          deletionId: d.deletionId,
          recordings: namedRecordings(d),
        });
        this.stats.deletionsApplied++;
        this.log.info({ deletionId: d.deletionId, framesDeleted: r.framesDeleted }, 'deletion applied');
      } catch (err) {
        this.log.warn({ deletionId: d.deletionId, error: (err as Error).message }, 'applying a deletion failed');
      }
    }
  }
}

/**
 * Recording R, recorded by `node` (in any incarnation), was stopped by a fence at E while this
 * node's copy goes on past E, and no continuation of R exists yet, or only one that an earlier
 * incarnation of the node (`lease` is the current one) made and did not finish (docs/REPLICATION.md §7).
 */
export function awaitsContinuation(view: ClusterView, r: ClusterRecording, node: string, localStopPosition: number, lease: string): boolean {
  if (r.owner.node !== node || (r.state !== 'stopped' && r.state !== 'failed') || localStopPosition <= r.stopPosition) return false;
  for (const v of view.recordings.values()) {
    const c = v.value;
    // a continuation an earlier incarnation of this node made and did not finish still needs the frames
    if (c.continues?.recordingId === r.recordingId) return (c.state === 'recording' || c.state === 'fencing') && c.owner.node === node && c.owner.lease !== lease;
  }
  return true;
}

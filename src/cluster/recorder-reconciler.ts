/**
 * Makes etcd say what local storage says about the recordings this incarnation records
 * (docs/REPLICATION.md §5.3, §6 "etcd outage"): level-triggered, so it needs no outbox. From
 * local facts (the writer's position and current segment, the segments it sealed, its final
 * state) it derives what etcd should hold, compares with the cluster view, and writes the
 * difference, one fenced transaction at a time:
 *
 *   - an `open` segment record, with the placement chosen when the writer entered the segment
 *     (rendezvous over the ready nodes then), for every segment the writer has begun;
 *   - the `sealed` record (end, frames, digest, first/last UTC, the recorder as a copy) of
 *     every segment the writer completed;
 *   - the descriptor's live fields about once a second, and its final state after the stop
 *     (only once every seal is written, so a stopped recording never has an open segment).
 *
 * After etcd was unreachable, or after a new incarnation took a recording over, the next pass
 * simply finds the differences and writes them. A write that fails its compares is re-derived
 * on the next pass; one that finds the recording fenced reports it (`onFenced`).
 */
import type { ClusterRecording, ClusterSegment, ReplicaEntry } from './cluster-keys.js';
import type { ClusterView } from './cluster-view.js';
import type { ClusterWrites } from './cluster-writes.js';
import type { Membership } from './membership.js';
import { place } from './placement.js';

export interface SealedInfo {
  base: number;
  end: number;
  frames: number;
  digest: string;
  firstUtcNs: bigint;
  lastUtcNs: bigint;
}

/** What the recorder's writer tells the reconciler (read on every pass). */
export interface OwnedRecordingSource {
  readonly recordingId: number;
  /** the segment the writer is in now (undefined once stopped) */
  liveBase(): number | undefined;
  /** live fields for the descriptor */
  progress(): { stopPosition: number; stopUtcNs: bigint; stopMonoNs: bigint; eventCount: number };
  /** the final state once the writer stopped */
  final(): { state: 'stopped' | 'failed'; stopPosition: number; stopUtcNs: bigint; stopMonoNs: bigint; eventCount: number } | undefined;
}

interface Owned {
  source: OwnedRecordingSource;
  placements: Map<number, string[]>;
  sealed: Map<number, SealedInfo>;
  lastProgressMs: number;
  lastProgressPosition: number;
  finalWritten: boolean;
}

const PASS_MS = 100;
const PROGRESS_MS = 1000;

export class RecorderReconciler {
  private readonly owned = new Map<number, Owned>();
  private busy = false;
  private nextPassMs = 0;
  writes = 0;
  onFenced: ((recordingId: number) => void) | undefined;
  onError: ((err: unknown) => void) | undefined;

  constructor(
    private readonly view: ClusterView,
    private readonly clusterWrites: ClusterWrites,
    private readonly member: Membership,
    private readonly k: number,
    private readonly nowMs: () => number,
  ) {}

  track(source: OwnedRecordingSource): void {
    this.owned.set(source.recordingId, { source, placements: new Map(), sealed: new Map(), lastProgressMs: 0, lastProgressPosition: -1, finalWritten: false });
    this.notePlacement(this.owned.get(source.recordingId)!);
  }

  /** Storage heard a segment sealed (the writer rolled past it, or stopped). */
  onSealed(recordingId: number, s: SealedInfo): void {
    this.owned.get(recordingId)?.sealed.set(s.base, s);
  }

  /** The placement this recorder chose for a segment of a recording it owns (mirroring reads it). */
  placementOf(recordingId: number, base: number): string[] | undefined {
    return this.view.segment(recordingId, base)?.value.placement ?? this.owned.get(recordingId)?.placements.get(base);
  }

  /** Recordings whose etcd state still differs from local storage (0 when all is published). */
  pending(): number {
    return this.owned.size;
  }

  isOwned(recordingId: number): boolean {
    return this.owned.has(recordingId);
  }

  doWork(): number {
    let work = 0;
    for (const o of this.owned.values()) work += this.notePlacement(o);
    const now = this.nowMs();
    if (this.busy || now < this.nextPassMs || !this.member.trusted()) return work;
    this.nextPassMs = now + PASS_MS;
    const task = this.nextWrite(now);
    if (!task) return work;
    this.busy = true;
    task()
      .catch((err: unknown) => this.onError?.(err))
      .finally(() => {
        this.busy = false;
      });
    return work + 1;
  }

  /** A placement for each segment the writer entered (chosen once, when it is first seen). */
  private notePlacement(o: Owned): number {
    const base = o.source.liveBase();
    if (base === undefined || o.placements.has(base)) return 0;
    const ready = this.view.upNodes().filter((n) => this.view.isReady(n) || n === this.member.node);
    o.placements.set(base, place(ready, this.k, o.source.recordingId, base));
    return 1;
  }

  /** The first difference between what local storage says and what etcd holds, as a write. */
  private nextWrite(now: number): (() => Promise<void>) | undefined {
    for (const [id, o] of this.owned) {
      const rec = this.view.recording(id)?.value;
      if (!rec) continue; // the create has not reached the view yet
      if (rec.owner.node !== this.member.node || rec.owner.lease !== this.member.lease) {
        if ((rec.state === 'recording' || rec.state === 'fencing') && rec.owner.node === this.member.node) {
          // an earlier incarnation of this node owned it: take it over (§6 "Lease loss"); the
          // compare on the record's mod revision loses against a fence that got there first
          return () =>
            this.count(
              this.clusterWrites.updateRecording(id, (cur) =>
                cur.owner.node === this.member.node && (cur.state === 'recording' || cur.state === 'fencing')
                  ? { ...cur, state: 'recording', owner: { node: this.member.node, lease: this.member.lease } }
                  : undefined,
              ),
            );
        }
        this.owned.delete(id);
        this.onFenced?.(id);
        continue;
      }
      const me: ReplicaEntry = { node: this.member.node, disk: this.member.disk };
      for (const [base, placement] of [...o.placements].sort((a, b) => a[0] - b[0])) {
        const seg = this.view.segment(id, base)?.value;
        const sealed = o.sealed.get(base);
        if (!seg) {
          const s: ClusterSegment = sealed
            ? { recordingId: id, state: 'sealed', placement, replicas: [me], ...sealed }
            : { recordingId: id, base, state: 'open', placement, replicas: [], end: base, frames: 0, digest: '', firstUtcNs: 0n, lastUtcNs: 0n };
          return () => this.count(this.clusterWrites.openSegment(s));
        }
        if (!sealed && seg.state === 'open' && o.source.final() && o.source.liveBase() === undefined) {
          // the writer stopped before writing anything in this segment: it is sealed empty
          return () => this.count(this.clusterWrites.updateSegment(id, base, (cur) => (cur && cur.state === 'open' ? { ...cur, state: 'sealed', end: base } : undefined)));
        }
        if (sealed && seg.state === 'open') {
          return () =>
            this.count(
              this.clusterWrites.updateSegment(id, base, (cur) =>
                cur && cur.state === 'open' ? { ...cur, state: 'sealed', ...sealed, replicas: mergeReplica(cur.replicas, me) } : undefined,
              ),
            );
        }
      }
      const fin = o.source.final();
      if (fin) {
        const allSealed = [...o.placements.keys()].every((b) => this.view.segment(id, b)?.value.state === 'sealed');
        if (!allSealed) continue;
        return () =>
          this.count(
            this.clusterWrites
              .updateRecording(id, (cur) => (cur.owner.lease === this.member.lease && cur.state === 'recording' ? { ...cur, ...fin, stoppedBy: this.member.node } : undefined))
              .then((r) => {
                if (r || this.view.recording(id)?.value.state !== 'recording') this.owned.delete(id);
              }),
          );
      }
      const p = o.source.progress();
      if (p.stopPosition !== o.lastProgressPosition && now - o.lastProgressMs >= PROGRESS_MS) {
        o.lastProgressMs = now;
        o.lastProgressPosition = p.stopPosition;
        return () => this.count(this.clusterWrites.updateRecording(id, (cur) => (cur.owner.lease === this.member.lease && cur.state === 'recording' ? { ...cur, ...p } : undefined)));
      }
    }
    return undefined;
  }

  private async count(p: Promise<unknown>): Promise<void> {
    await p;
    this.writes++;
  }
}

function mergeReplica(list: ReplicaEntry[], e: ReplicaEntry): ReplicaEntry[] {
  return list.some((x) => x.node === e.node && x.disk === e.disk) ? list : [...list, e];
}

export type { ClusterRecording };

/**
 * The coordinator (docs/REPLICATION.md §7), run on every ready node and active on the one that
 * holds the `coord` key. The key is created if absent and attached to the node's member
 * lease, so losing the incarnation loses coordinatorship in the same instant; its create
 * revision is the token every coordinator write compares.
 *
 * Each pass (every 250 ms, and at once when a member, down or grace key changed; one pass in
 * flight at a time): down/grace bookkeeping (etcd measures grace with a lease of TTL
 * graceMs), placement changes for segments whose placement holds a node down past grace or
 * past its verify deadline (verify-deadlines.ts), and fences of recordings whose owner
 * incarnation is over. All decisions come from the pure plans in repair-plan.ts; each is one
 * transaction; a failed compare just waits for the next pass.
 */
import { KEY, encodeValue, type ClusterSegment, type CoordValue } from './cluster-keys.js';
import type { ClusterView } from './cluster-view.js';
import type { ClusterWrites } from './cluster-writes.js';
import type { Compare, EtcdStore } from './etcd-store.js';
import type { Membership } from './membership.js';
import { planFences, planPlacementChanges, type FenceCandidate } from './repair-plan.js';
import { VerifyDeadlines } from './verify-deadlines.js';

export const CoordinatorState = {
  FOLLOWING: 'FOLLOWING',
  CLAIMING: 'CLAIMING',
  LEADING: 'LEADING',
  CLOSED: 'CLOSED',
} as const;
export type CoordinatorState = (typeof CoordinatorState)[keyof typeof CoordinatorState];

/** What a fence participant reports about its copy of a recording's open segments. */
export interface FenceReport {
  node: string;
  /** per open segment: the holder's end, its digest of [base, end), and whether its copy reached the roll to the next segment (padding) */
  segments: { base: number; end: number; frames: number; digest: string; firstUtcNs: bigint; lastUtcNs: bigint; complete: boolean }[];
}

/** The data-path half of a fence: ask a node for its ends (it answers once its view shows `fencing` at `revision`). */
export interface FenceRpc {
  query(node: string, recordingId: number, revision: number): Promise<FenceReport>;
}

export interface CoordinatorLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const PASS_INTERVAL_MS = 250;

export class RepairCoordinator {
  state: CoordinatorState = CoordinatorState.FOLLOWING;
  private token = 0;
  private busy = false;
  private nextPassMs = 0;
  private readonly deadlines: VerifyDeadlines;
  /** members, down and grace keys as the last pass saw them: a change runs the next pass at once */
  private lastMembership = -1;
  passes = 0;
  /** passes finished (the last one's writes are in etcd) */
  passesDone = 0;
  placementChanges = 0;
  fences = 0;

  constructor(
    private readonly store: EtcdStore,
    private readonly view: ClusterView,
    private readonly writes: ClusterWrites,
    private readonly member: Membership,
    private readonly allNodes: readonly string[],
    private readonly opts: { k: number; graceMs: number; verifyDeadlineMs: number },
    private readonly fenceRpc: FenceRpc,
    private readonly nowMs: () => number,
    private readonly log: CoordinatorLog,
  ) {
    this.deadlines = new VerifyDeadlines(opts.verifyDeadlineMs);
  }

  get leading(): boolean {
    return this.state === CoordinatorState.LEADING;
  }

  doWork(): number {
    if (this.state === CoordinatorState.CLOSED || this.busy) return 0;
    const now = this.nowMs();
    // a node gone, back, or out of grace is acted on at once, not at the next pass interval
    const membership = this.view.members.size * 1_000_000 + this.view.down.size * 1000 + this.view.grace.size;
    if (membership !== this.lastMembership) this.nextPassMs = 0;
    if (now < this.nextPassMs) return 0;
    this.lastMembership = membership;
    this.nextPassMs = now + PASS_INTERVAL_MS;
    if (!this.member.ready || !this.member.trusted()) {
      this.state = CoordinatorState.FOLLOWING;
      return 0;
    }
    const coord = this.view.coord;
    const mine = coord !== undefined && coord.value.node === this.member.node && coord.lease === this.member.lease;
    if (!mine) {
      this.state = CoordinatorState.FOLLOWING;
      if (coord === undefined) this.run(() => this.claim());
      return 1;
    }
    this.token = coord.createRevision;
    this.state = CoordinatorState.LEADING;
    this.run(() => this.pass());
    return 1;
  }

  close(): void {
    this.state = CoordinatorState.CLOSED;
  }

  private run(task: () => Promise<void>): void {
    this.busy = true;
    task()
      .catch((err: unknown) => this.log.warn({ error: err instanceof Error ? err.message : String(err) }, 'coordinator pass failed'))
      .finally(() => {
        this.busy = false;
      });
  }

  private async claim(): Promise<void> {
    this.state = CoordinatorState.CLAIMING;
    const v: CoordValue = { node: this.member.node, disk: this.member.disk };
    const r = await this.store.txn(
      [this.member.fence(), { key: KEY.coord, target: 'Create', op: '==', value: 0 }],
      [{ put: KEY.coord, value: encodeValue(v), lease: this.member.lease }],
    );
    if (r.succeeded) this.log.info({ node: this.member.node }, 'became the repair coordinator');
  }

  private tokenCompare(): Compare {
    return { key: KEY.coord, target: 'Create', op: '==', value: this.token };
  }

  private async pass(): Promise<void> {
    this.passes++;
    await this.downAndGrace();
    const now = this.nowMs();
    this.deadlines.update(this.view, now);
    const missed = (node: string, s: ClusterSegment): boolean => this.deadlines.missed(this.view, node, s, now);
    for (const c of planPlacementChanges(this.view, this.opts.k, missed)) {
      const extra: Compare[] = [this.tokenCompare()];
      for (const n of c.replaced) {
        if (!this.view.isUp(n)) {
          extra.push({ key: KEY.member(n), target: 'Create', op: '==', value: 0 });
          extra.push({ key: KEY.grace(n), target: 'Create', op: '==', value: 0 });
        }
      }
      const done = await this.writes.updateSegment(
        c.recordingId,
        c.base,
        (cur) => (cur && sameMembers(cur.placement, placementBefore(this.view, c)) ? { ...cur, placement: c.placement } : undefined),
        extra,
      );
      if (done) {
        this.placementChanges++;
        this.log.info({ recordingId: c.recordingId, base: c.base, placement: c.placement, replaced: c.replaced }, 'placement repaired');
      }
    }
    for (const f of planFences(this.view)) await this.fence(f);
    this.passesDone++;
  }

  /** down/<n> and grace/<n> for nodes missing from the members; both removed when n is back. */
  private async downAndGrace(): Promise<void> {
    for (const n of this.allNodes) {
      const up = this.view.isUp(n);
      if (!up && !this.view.down.has(n)) {
        const lease = this.store.lease(this.opts.graceMs);
        let id: string;
        try {
          id = await lease.grant();
        } finally {
          lease.release(); // never kept alive: it expires after graceMs, which is the point
        }
        await this.store.txn(
          [this.member.fence(), this.tokenCompare(), { key: KEY.down(n), target: 'Create', op: '==', value: 0 }, { key: KEY.member(n), target: 'Create', op: '==', value: 0 }],
          [
            { put: KEY.down(n), value: encodeValue({ sinceMs: Date.now() }) },
            { put: KEY.grace(n), value: '1', lease: id },
          ],
        );
      } else if (up && (this.view.down.has(n) || this.view.grace.has(n))) {
        await this.store.txn([this.member.fence(), this.tokenCompare()], [{ del: KEY.down(n) }, { del: KEY.grace(n) }]);
      }
    }
  }

  /** §7 "Fencing": recording -> fencing -> stopped, every open segment sealed in one transaction. */
  private async fence(f: FenceCandidate): Promise<void> {
    const id = f.recording.value.recordingId;
    let revision = f.recording.modRevision;
    if (f.recording.value.state === 'recording') {
      const owner = f.recording.value.owner;
      const r = await this.writes.updateRecording(id, (cur) => (cur.state === 'recording' && cur.owner.lease === owner.lease ? { ...cur, state: 'fencing' } : undefined), [this.tokenCompare()]);
      if (!r) return;
      const kv = await this.store.get(KEY.recording(id));
      revision = kv?.modRevision ?? revision;
      this.log.info({ recordingId: id, owner: owner.node }, 'fencing a recording whose owner is gone');
    }
    const open = this.view.segmentsOf(id).filter((s) => s.value.state === 'open');
    const participants = new Set<string>();
    for (const s of open) for (const n of s.value.placement) participants.add(n);
    participants.add(f.recording.value.owner.node);
    const reports: FenceReport[] = [];
    for (const n of participants) {
      if (!this.view.isUp(n)) {
        if (this.view.isDownPastGrace(n) || n === f.recording.value.owner.node) continue;
        return; // a participant within grace may hold the longest prefix: wait for it
      }
      try {
        reports.push(await this.fenceRpc.query(n, id, revision));
      } catch (err) {
        this.log.warn({ recordingId: id, node: n, error: (err as Error).message }, 'fence query failed; retrying next pass');
        return;
      }
    }
    const { stopPosition, seals } = decideFence(f.recording.value.startPosition, f.recording.value.segmentLength, open.map((s) => s.value), reports);
    const ops = seals.map((s) => ({ put: KEY.segment(id, s.base), value: encodeValue(s) }));
    const compares: Compare[] = [this.member.fence(), this.tokenCompare(), { key: KEY.recording(id), target: 'Mod', op: '==', value: revision }];
    for (const s of open) compares.push({ key: KEY.segment(id, s.value.base), target: 'Mod', op: '==', value: s.modRevision });
    const last = seals.filter((s) => s.frames > 0).pop();
    const stopped = {
      ...f.recording.value,
      state: 'stopped' as const,
      stopPosition,
      stoppedBy: this.member.node,
      ...(last ? { stopUtcNs: last.lastUtcNs } : {}),
    };
    const r = await this.store.txn(compares, [...ops, { put: KEY.recording(id), value: encodeValue(stopped) }]);
    if (r.succeeded) {
      this.fences++;
      this.log.info({ recordingId: id, stopPosition }, 'recording fenced and stopped');
    }
  }
}

/**
 * The fence's end (§7): the longest contiguous prefix among the reports. Open segments in base
 * order; each is sealed at the longest end reported for it (with that holder's digest) while
 * the previous one was complete (its longest end reached the next base); the rest are sealed
 * empty. Exported for unit tests.
 */
export function decideFence(startPosition: number, segmentLength: number, open: ClusterSegment[], reports: FenceReport[]): { stopPosition: number; seals: ClusterSegment[] } {
  const seals: ClusterSegment[] = [];
  let stopPosition = open.length > 0 ? open[0]!.base : startPosition;
  let contiguous = true;
  for (const s of [...open].sort((a, b) => a.base - b.base)) {
    let best: { node: string; seg: FenceReport['segments'][number] } | undefined;
    if (contiguous) {
      for (const rep of reports) {
        const seg = rep.segments.find((x) => x.base === s.base);
        if (seg && (!best || seg.end > best.seg.end)) best = { node: rep.node, seg };
      }
    }
    if (!best || best.seg.frames === 0) {
      seals.push({ ...s, state: 'sealed', end: s.base, frames: 0, digest: '', replicas: [], firstUtcNs: 0n, lastUtcNs: 0n });
      contiguous = false;
      continue;
    }
    seals.push({ ...s, state: 'sealed', end: best.seg.end, frames: best.seg.frames, digest: best.seg.digest, firstUtcNs: best.seg.firstUtcNs, lastUtcNs: best.seg.lastUtcNs, replicas: [] });
    stopPosition = best.seg.end;
    // the next segment continues this one only if the best copy of this one reached its roll
    contiguous = best.seg.complete || best.seg.end === s.base + segmentLength;
  }
  return { stopPosition, seals };
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function placementBefore(view: ClusterView, c: { recordingId: number; base: number }): string[] {
  return view.segment(c.recordingId, c.base)?.value.placement ?? [];
}

/**
 * The coordinator's decisions, as pure functions of the cluster view and how long each node
 * has been down (docs/REPLICATION.md §7). The coordinator turns each into one fenced etcd
 * transaction; keeping the decisions pure makes every rule unit-testable without etcd.
 */
import type { ClusterRecording, ClusterSegment } from './cluster-keys.js';
import type { ClusterView, Versioned } from './cluster-view.js';
import { liveCopies } from './health.js';
import { repairPlacement } from './placement.js';

export interface DownClock {
  /** ms the node has been down as the coordinator saw it; 0 when up */
  downForMs(node: string): number;
}

export interface PlacementChange {
  recordingId: number;
  base: number;
  modRevision: number;
  placement: string[];
  /** live verified copies now: the change list is sorted by it, fewest first */
  liveCopies: number;
}

/**
 * Segments whose placement holds a node down longer than grace, or fewer than k nodes: the
 * members still trusted are kept, the next nodes in rendezvous order among the up nodes are
 * added. Sorted so that the segments with the fewest live verified copies come first.
 */
export function planPlacementChanges(view: ClusterView, k: number, graceMs: number, down: DownClock): PlacementChange[] {
  const up = view.upNodes();
  const keep = (n: string) => view.isUp(n) || down.downForMs(n) < graceMs;
  const out: PlacementChange[] = [];
  for (const seg of view.allSegments()) {
    const s = seg.value;
    if (s.placement.length >= k && s.placement.every(keep)) continue;
    const next = repairPlacement(s.placement, keep, up, k, s.recordingId, s.base);
    if (sameSet(next, s.placement)) continue;
    out.push({ recordingId: s.recordingId, base: s.base, modRevision: seg.modRevision, placement: next, liveCopies: liveCopies(view, s) });
  }
  return out.sort((a, b) => a.liveCopies - b.liveCopies || a.recordingId - b.recordingId || a.base - b.base);
}

export interface FenceCandidate {
  recording: Versioned<ClusterRecording>;
  /** the last segment record of the recording (the open one), if any */
  openSegment: Versioned<ClusterSegment> | undefined;
}

/**
 * Live recordings whose owner incarnation is gone for longer than grace: the owner node is
 * down, or up with another lease (a restart that did not take the recording over), and
 * recordings already in `fencing` (a coordinator died mid-fence: the successor repeats it).
 */
export function planFences(view: ClusterView, graceMs: number, down: DownClock, staleSinceMs: (recordingId: number) => number): FenceCandidate[] {
  const out: FenceCandidate[] = [];
  for (const rec of view.recordings.values()) {
    const r = rec.value;
    if (r.state !== 'recording' && r.state !== 'fencing') continue;
    if (r.state === 'recording') {
      const m = view.member(r.owner.node);
      const alive = m !== undefined && m.lease === r.owner.lease;
      if (alive) continue;
      const gone = m === undefined ? down.downForMs(r.owner.node) : staleSinceMs(r.recordingId);
      if (gone < graceMs) continue;
    }
    const segs = view.segmentsOf(r.recordingId);
    out.push({ recording: rec, openSegment: segs.filter((s) => s.value.state === 'open').pop() ?? segs[segs.length - 1] });
  }
  return out;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

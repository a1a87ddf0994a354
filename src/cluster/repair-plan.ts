/**
 * The coordinator's decisions, as pure functions of the cluster view (docs/REPLICATION.md §7).
 * The coordinator turns each into one fenced etcd transaction; keeping the decisions pure makes
 * every rule unit-testable without etcd.
 */
import type { ClusterRecording, ClusterSegment } from './cluster-keys.js';
import type { ClusterView, Versioned } from './cluster-view.js';
import { rendezvousOrder } from './placement.js';

export interface PlacementChange {
  recordingId: number;
  base: number;
  modRevision: number;
  placement: string[];
  /** the members replaced (each compared absent, or past its verify deadline, in the transaction) */
  replaced: string[];
  /** live copies now: the change list is sorted by it, fewest first */
  liveCopies: number;
}

/**
 * Segments whose placement holds a node down past grace, a node that missed the segment's
 * verify deadline, or fewer than k nodes: the other members are kept; up, ready nodes already
 * holding a live copy are added first, then the next up, ready nodes in rendezvous order,
 * until k. Sorted so that the segments with the fewest live copies come first.
 */
export function planPlacementChanges(view: ClusterView, k: number, missedDeadline: (node: string, s: ClusterSegment) => boolean = () => false): PlacementChange[] {
  const ready = view.upNodes().filter((n) => view.isReady(n));
  const out: PlacementChange[] = [];
  for (const seg of view.allSegments()) {
    const s = seg.value;
    if (s.state === 'sealed' && s.end <= s.base) continue; // sealed empty: nothing to place
    const replaced = s.placement.filter((n) => view.isDownPastGrace(n) || missedDeadline(n, s));
    if (replaced.length === 0 && s.placement.length >= k) continue;
    const next = s.placement.filter((n) => !replaced.includes(n));
    const live = view.liveCopies(s).map((e) => e.node);
    for (const n of [...live.filter((n) => ready.includes(n)), ...rendezvousOrder(ready, s.recordingId, s.base)]) {
      if (next.length >= k) break;
      if (!next.includes(n) && !replaced.includes(n)) next.push(n);
    }
    if (next.length === s.placement.length && next.every((n) => s.placement.includes(n))) continue;
    out.push({ recordingId: s.recordingId, base: s.base, modRevision: seg.modRevision, placement: next, replaced, liveCopies: live.length });
  }
  return out.sort((a, b) => a.liveCopies - b.liveCopies || a.recordingId - b.recordingId || a.base - b.base);
}

export interface FenceCandidate {
  recording: Versioned<ClusterRecording>;
  /** the recording's open segments, in base order */
  openSegments: Versioned<ClusterSegment>[];
}

/**
 * Recordings to fence: live ones whose owner incarnation is over (the owner is down past
 * grace, or up with another lease: that incarnation certainly ended), and those already in
 * `fencing` (a coordinator died mid-fence: its successor repeats the steps). A continuation
 * with no segment record yet is not fenced: no other node holds anything of it, and its frames
 * wait in its owner's files for the owner to finish it (docs/REPLICATION.md §7, "Continuation").
 */
export function planFences(view: ClusterView): FenceCandidate[] {
  const out: FenceCandidate[] = [];
  for (const rec of view.recordings.values()) {
    const r = rec.value;
    if (r.state === 'recording') {
      if (r.continues !== undefined && view.segmentsOf(r.recordingId).length === 0) continue;
      const m = view.member(r.owner.node);
      const over = m ? m.lease !== r.owner.lease : view.isDownPastGrace(r.owner.node);
      if (!over) continue;
    } else if (r.state !== 'fencing') continue;
    out.push({ recording: rec, openSegments: view.segmentsOf(r.recordingId).filter((s) => s.value.state === 'open') });
  }
  return out;
}

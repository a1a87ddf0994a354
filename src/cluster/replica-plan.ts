/**
 * One node's decisions about its own copies (docs/REPLICATION.md §5.3-5.5, §6), as a pure
 * function of the cluster view and the node's local segment inventory. The replica manager
 * executes them (each etcd change one fenced transaction, each file change through storage).
 * For a sealed segment (recording, base) and this node X on disk D:
 *
 *   an entry of X on another disk (the directory was wiped or replaced)  -> leave (remove it)
 *   X's entry, but no good local copy (missing, truncated, away)          -> leave
 *   X's entry, copy not verified since this process started               -> verify
 *   no entry, complete local copy                                         -> verify, then join
 *        (bytes that verify against the record's digest are a copy, placed here or not)
 *   X placed, no entry, copy absent or incomplete                         -> fetch (resume at its end)
 *   X not placed, X's entry                                               -> surplus: drop once K other
 *                                                                            placed nodes hold live copies
 *   X not placed, no entry, incomplete bytes                              -> delete (they prove nothing)
 *   bytes past a stopped recording's stop position, no record             -> delete
 *   open segments: kept by the recorder and placement targets (mirroring); nobody fetches them
 *   no segment record yet (the recorder's reconciler has not written it)  -> keep, decide later
 */
import type { ClusterSegment } from './cluster-keys.js';
import type { ClusterView } from './cluster-view.js';

export type LocalSegmentState = 'present' | 'tombstone' | 'away' | 'missing' | 'truncated';

export interface LocalSegment {
  recordingId: number;
  base: number;
  state: LocalSegmentState;
  /** position after the last complete frame held locally (base when empty) */
  end: number;
  /** the digest was checked against the record since this process started */
  verified: boolean;
}

export type ReplicaAction =
  | { kind: 'leave'; recordingId: number; base: number; disk: string; why: string }
  | { kind: 'verify'; recordingId: number; base: number; join: boolean }
  | { kind: 'fetch'; recordingId: number; base: number; from: number; holders: string[]; liveCopies: number }
  | { kind: 'drop'; recordingId: number; base: number; holders: string[] }
  | { kind: 'delete'; recordingId: number; base: number; why: string };

function hasCopy(l: LocalSegment | undefined): boolean {
  return l !== undefined && (l.state === 'present' || l.state === 'tombstone');
}

export function localKey(recordingId: number, base: number): string {
  return `${recordingId}/${base}`;
}

export function planReplicaActions(view: ClusterView, self: string, disk: string, k: number, local: Map<string, LocalSegment>): ReplicaAction[] {
  const out: ReplicaAction[] = [];
  const fetches: Extract<ReplicaAction, { kind: 'fetch' }>[] = [];
  const seen = new Set<string>();
  for (const seg of view.allSegments()) {
    const s = seg.value;
    const key = localKey(s.recordingId, s.base);
    seen.add(key);
    if (s.state === 'open') continue;
    const l = local.get(key);
    if (s.end <= s.base) {
      // sealed empty (a fence cut it): nothing to hold; local bytes there prove nothing
      if (l && l.state === 'present') out.push({ kind: 'delete', recordingId: s.recordingId, base: s.base, why: 'the segment was sealed empty' });
      continue;
    }
    const mine = s.replicas.filter((e) => e.node === self);
    for (const e of mine) {
      if (e.disk !== disk) out.push({ kind: 'leave', recordingId: s.recordingId, base: s.base, disk: e.disk, why: `entry names disk ${e.disk}, this directory is ${disk}` });
    }
    const inReplicas = mine.some((e) => e.disk === disk);
    const inPlacement = s.placement.includes(self);
    const complete = hasCopy(l) && l!.end >= s.end;
    if (inReplicas) {
      if (!hasCopy(l)) out.push({ kind: 'leave', recordingId: s.recordingId, base: s.base, disk, why: `no local copy (${l?.state ?? 'missing'})` });
      else if (!l!.verified) out.push({ kind: 'verify', recordingId: s.recordingId, base: s.base, join: false });
      else if (!inPlacement) {
        const others = livePlacedHolders(view, s, self);
        if (others.length >= k) out.push({ kind: 'drop', recordingId: s.recordingId, base: s.base, holders: others.slice(0, k) });
      }
      continue;
    }
    if (complete) {
      out.push({ kind: 'verify', recordingId: s.recordingId, base: s.base, join: true });
      continue;
    }
    if (inPlacement) {
      const holders = view.liveCopies(s).map((e) => e.node).filter((n) => n !== self);
      if (holders.length > 0) {
        fetches.push({ kind: 'fetch', recordingId: s.recordingId, base: s.base, from: hasCopy(l) ? l!.end : s.base, holders, liveCopies: holders.length });
      }
      continue;
    }
    if (l && l.state === 'present') out.push({ kind: 'delete', recordingId: s.recordingId, base: s.base, why: 'an incomplete copy of a segment not placed here' });
  }
  for (const [key, l] of local) {
    if (seen.has(key) || l.state !== 'present') continue;
    const r = view.recording(l.recordingId)?.value;
    if (r && r.state === 'stopped' && l.base >= r.stopPosition && l.base > r.startPosition) {
      out.push({ kind: 'delete', recordingId: l.recordingId, base: l.base, why: `past the recording's stop position ${r.stopPosition}` });
    }
  }
  // fetches last, fewest live copies first (§5.5)
  fetches.sort((a, b) => a.liveCopies - b.liveCopies || a.recordingId - b.recordingId || a.base - b.base);
  return [...out, ...fetches];
}

/** Placement nodes other than `self` holding live copies. */
export function livePlacedHolders(view: ClusterView, s: ClusterSegment, self: string): string[] {
  return view
    .liveCopies(s)
    .map((e) => e.node)
    .filter((n) => n !== self && s.placement.includes(n));
}

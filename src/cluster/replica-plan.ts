/**
 * One node's decisions about its own copies (docs/REPLICATION.md §5.3-5.5, §6 step 5), as a
 * pure function of the cluster view and the node's local segment inventory. The replica
 * manager executes them (each etcd change as one fenced transaction, each file change through
 * storage). Rules, for a segment (recording, base) and this node X:
 *
 *   X in replicas, no good local copy (wiped, truncated, away) -> leave the replica set
 *   X in replicas, copy not verified since start               -> verify (digest)
 *   X in placement, sealed, not in replicas, copy complete     -> verify, then join the replica set
 *   X in placement, sealed, not in replicas, copy incomplete   -> fetch from a holder (resume at its end)
 *   X not in placement, X in replicas                          -> surplus: leave once K others hold it, then drop
 *   X in neither, sealed, local bytes                          -> garbage: delete (bytes prove nothing)
 *   local bytes past a stopped recording's stop position       -> garbage
 *   open segments: kept by the recorder and placement targets (mirroring); nobody fetches them
 *   no segment record yet (the recorder's outbox waits for etcd)  -> keep, decide later
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
  | { kind: 'leave'; recordingId: number; base: number; why: string }
  | { kind: 'verify'; recordingId: number; base: number; join: boolean }
  | { kind: 'fetch'; recordingId: number; base: number; from: number; holders: string[]; liveCopies: number }
  | { kind: 'drop'; recordingId: number; base: number; holders: string[] }
  | { kind: 'delete'; recordingId: number; base: number; why: string };

function hasCopy(l: LocalSegment | undefined): boolean {
  return l !== undefined && (l.state === 'present' || l.state === 'tombstone');
}

export function planReplicaActions(view: ClusterView, self: string, k: number, local: Map<string, LocalSegment>): ReplicaAction[] {
  const out: ReplicaAction[] = [];
  const seen = new Set<string>();
  const readyHolders = (s: ClusterSegment) => s.replicas.filter((n) => n !== self && view.isReady(n));
  for (const seg of view.allSegments()) {
    const s = seg.value;
    const key = `${s.recordingId}/${s.base}`;
    seen.add(key);
    const l = local.get(key);
    const inPlacement = s.placement.includes(self);
    const inReplicas = s.replicas.includes(self);
    if (s.state === 'open') continue;
    if (inReplicas && !hasCopy(l)) {
      out.push({ kind: 'leave', recordingId: s.recordingId, base: s.base, why: `no local copy (${l?.state ?? 'missing'})` });
      continue;
    }
    if (inReplicas && !l!.verified) {
      out.push({ kind: 'verify', recordingId: s.recordingId, base: s.base, join: false });
      continue;
    }
    if (inPlacement && !inReplicas) {
      if (hasCopy(l) && l!.end >= s.end) out.push({ kind: 'verify', recordingId: s.recordingId, base: s.base, join: true });
      else {
        const holders = readyHolders(s);
        if (holders.length > 0) {
          out.push({ kind: 'fetch', recordingId: s.recordingId, base: s.base, from: hasCopy(l) ? l!.end : s.base, holders, liveCopies: s.replicas.filter((n) => view.isUp(n)).length });
        }
      }
      continue;
    }
    if (!inPlacement && inReplicas) {
      const others = s.replicas.filter((n) => n !== self && s.placement.includes(n) && view.isUp(n));
      if (others.length >= k) out.push({ kind: 'drop', recordingId: s.recordingId, base: s.base, holders: others.slice(0, k) });
      continue;
    }
    if (!inPlacement && !inReplicas && l && l.state === 'present') {
      out.push({ kind: 'delete', recordingId: s.recordingId, base: s.base, why: 'not in the placement or replica set' });
    }
  }
  for (const [key, l] of local) {
    if (seen.has(key) || l.state !== 'present') continue;
    const r = view.recording(l.recordingId)?.value;
    if (r && r.state === 'stopped' && l.base >= r.stopPosition && l.base > 0) {
      out.push({ kind: 'delete', recordingId: l.recordingId, base: l.base, why: `past the recording's stop position ${r.stopPosition}` });
    }
  }
  // fetches: fewest live copies first (§5.5)
  return out.sort((a, b) => (a.kind === 'fetch' && b.kind === 'fetch' ? a.liveCopies - b.liveCopies : 0));
}

/**
 * What every node can compute from its cluster view alone: per-node share, the number of
 * under-replicated segments, whether repair is under way, and the bytes still to copy
 * (docs/REPLICATION.md §7 "Progress"). `vcr cluster status`, `/metrics` and the
 * ReplicaRepaired notification all come from here, so every node reports the same numbers.
 */
import type { ClusterSegment } from './cluster-keys.js';
import type { ClusterView } from './cluster-view.js';

export interface NodeHealth {
  id: string;
  up: boolean;
  ready: boolean;
  /** sealed segments this node holds a verified copy of */
  segments: number;
  bytes: number;
}

export interface ClusterHealth {
  k: number;
  nodes: NodeHealth[];
  sealedSegments: number;
  underReplicatedSegments: number;
  /** under-replicated segments that have a placement target that is up and lacks a copy */
  repairing: boolean;
  bytesToRepair: number;
}

export function segmentBytes(s: ClusterSegment): number {
  return Math.max(0, s.end - s.base);
}

/** Verified copies on nodes that are up and ready with the disk the copy is on. */
export function liveCopies(view: ClusterView, s: ClusterSegment): number {
  return view.liveCopies(s).length;
}

export function clusterHealth(view: ClusterView, allNodes: readonly string[], k: number): ClusterHealth {
  const perNode = new Map<string, NodeHealth>(
    allNodes.map((id) => [id, { id, up: view.isUp(id), ready: view.isReady(id), segments: 0, bytes: 0 }]),
  );
  let sealed = 0;
  let under = 0;
  let repairing = false;
  let bytesToRepair = 0;
  for (const { value: s } of view.allSegments()) {
    if (s.state !== 'sealed' || s.end <= s.base) continue;
    sealed++;
    for (const r of view.liveCopies(s)) {
      const h = perNode.get(r.node);
      if (h) {
        h.segments++;
        h.bytes += segmentBytes(s);
      }
    }
    const copies = liveCopies(view, s);
    if (copies < k) {
      under++;
      const missing = s.placement.filter((n) => view.isUp(n) && !view.liveCopies(s).some((r) => r.node === n));
      if (missing.length > 0) repairing = true;
      bytesToRepair += (k - copies) * segmentBytes(s);
    }
  }
  return { k, nodes: [...perNode.values()], sealedSegments: sealed, underReplicatedSegments: under, repairing, bytesToRepair };
}

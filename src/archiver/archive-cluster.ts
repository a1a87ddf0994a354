/**
 * What the archive tier and a cluster tell each other (docs/REPLICATION.md, "Archive tier").
 * A segment is archived only once the cluster holds it sealed and this node's copy verified,
 * and the archived copy must have the digest of the segment's record. The copy stays this
 * node's copy (the location belongs to the node, `<location>/<nodeId>/`): the node still holds
 * a verified copy with the same digest, so its replica record does not change and K counts it
 * as before. A location shared by several nodes (`archive.shared`: one mount, one failure
 * domain) may hold one copy of a segment only: copies there count once. So with `shared` only
 * one holder archives each segment, the first node of its replica list (in node id order); the
 * other holders keep theirs hot, and K copies stay K independent copies.
 */
import type { ArchivePassOptions } from '../storage/archive-tier/index.js';
import { ClusterBinding } from './cluster-binding.js';
import type { StorageBinding } from './storage-binding.js';

export function archiveTierHooks(store: StorageBinding | ClusterBinding, shared: boolean): Pick<ArchivePassOptions, 'segmentCheck'> {
  if (!(store instanceof ClusterBinding)) return {};
  const node = store.node;
  const self = node.nodeId;
  return {
    segmentCheck: (recordingId, base) => {
      const s = node.view.segment(recordingId, base)?.value;
      if (!s || s.state !== 'sealed' || !node.replicas.isVerified(recordingId, base)) return { ok: false };
      if (shared && [...new Set(s.replicas.map((r) => r.node))].sort()[0] !== self) return { ok: false };
      return { ok: true, digest: s.digest };
    },
  };
}

/**
 * Attaches the data path (docs/REPLICATION.md §5, §7, §9) to a running ClusterNode: one
 * PeerNetwork on this node's replication endpoint and one ReplicationAgent over it, with the
 * node's answers to the agent's questions (which segments this process is writing, where a
 * segment is placed, who holds a copy, which local copies are verified), and the agent's
 * services handed back to the node (fence queries for the coordinator, fetches for the replica
 * manager, remote reads for the archiver's cluster binding, mirror lag for status).
 *
 * Verified copies are the replica manager's business alone: a copy the receiver installed is
 * joined by the manager's next pass, which checks its digest against the segment record, so
 * there is one way into a replica set.
 */
import type { Archive } from '../storage/archive.js';
import type { ClusterNode } from './cluster-node.js';
import { nodeOf, replicationBindHostOf, replicationListenOf } from './cluster-config.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { PeerNetwork } from './peer-network.js';
import type { FenceReport } from './repair-coordinator.js';
import type { MirrorLag } from './replication/mirror-service.js';
import type { RemoteSegments } from './replication/remote-segments.js';
import { ReplicationAgent, type ReplicationOptions } from './replication/replication-agent.js';

export interface DataPathOptions {
  node: ClusterNode;
  archive: Archive;
  dir: string;
  /** recordings this process is writing now */
  isRecordingHere(recordingId: number): boolean;
  /** wakes the duty cycle when bytes arrive */
  wake?: () => void;
  replication?: Partial<ReplicationOptions>;
}

export interface AttachedDataPath {
  readonly network: PeerNetwork;
  readonly agent: ReplicationAgent;
  readonly remote: RemoteSegments;
  lag(): MirrorLag[];
  close(): void;
}

/** Listens on the node's replication endpoint and attaches the agent; rejects with ADDRESS_IN_USE. */
export async function attachDataPath(o: DataPathOptions): Promise<AttachedDataPath> {
  const { node, archive } = o;
  const config = node.config;
  const self = nodeOf(config, node.nodeId);
  const network = new PeerNetwork(
    { cluster: config.name, node: node.nodeId, disk: () => node.disk, incarnation: () => node.incarnation, viewRevision: () => node.view.revision },
    replicationListenOf(self),
    config.nodes.map((n) => ({ id: n.id, replication: n.replication })),
    o.wake,
    replicationBindHostOf(self),
  );
  network.onError = (err) => node.log.warn({ error: err instanceof Error ? err.message : String(err) }, 'replication message handler failed');
  network.onLinkLost = (peer, outbound, reason) => node.log.info({ peer, outbound, reason }, 'peer connection lost');
  await network.listen();
  const view = node.view;
  const verifiedOrWriting = (r: number, base: number): boolean => {
    if (o.isRecordingHere(r)) return localPresent(archive, r, base);
    return node.replicas.isVerified(r, base) && localPresent(archive, r, base);
  };
  const agent = new ReplicationAgent(
    { self: node.nodeId, disk: () => node.disk, incarnation: () => node.incarnation, view, archive, network, dir: o.dir, nowMs: node.nowMs, log: node.log },
    {
      localOpenSegments: () =>
        archive.listRecordings({ lifecycle: 'recording' }).flatMap((d) => {
          if (!o.isRecordingHere(d.recordingId)) return [];
          const open = archive.openSegmentInfo(d.recordingId);
          return open ? [{ recordingId: d.recordingId, ...open }] : [];
        }),
      placementOf: (r, base) => node.reconciler.placementOf(r, base),
      ensureDescriptor: (r) => {
        const rec = view.recording(r)?.value;
        if (rec) node.replicas.ensureDescriptor(rec);
      },
      onCopied: (recordingId, base) => node.log.info({ recordingId, base }, 'mirrored copy installed (joins after verification)'),
      onCorrupt: (recordingId, base, error) => {
        node.log.warn({ recordingId, base, code: error.code, error: error.message }, 'a copy failed verification');
        node.replicas.suspect(recordingId, base);
      },
      canServe: verifiedOrWriting,
      hasLocalCopy: verifiedOrWriting,
      holdersOf: (r, base) => {
        const s = view.segment(r, base)?.value;
        const owner = view.recording(r)?.value.owner.node;
        if (s && s.state === 'sealed') {
          return view
            .liveCopies(s)
            .map((e) => e.node)
            .filter((n) => n !== node.nodeId);
        }
        return owner && owner !== node.nodeId ? [owner] : [];
      },
    },
    { repairBytesPerSec: config.repairBytesPerSec, ...o.replication },
  );
  node.fenceRpc = {
    // the coordinator is a participant too: its own report comes from its own fence server
    query: (peer, recordingId, revision) => (peer === node.nodeId ? localFenceReport(node, agent, recordingId, revision) : agent.queries.query(peer, recordingId, revision)),
  };
  node.replicas.fetcher = { fetch: (req) => agent.fetcher.fetch(req) };
  node.dataPath = {
    doWork: () => network.doWork() + agent.doWork(),
    close: () => {
      agent.close();
      network.close();
    },
  };
  return {
    network,
    agent,
    remote: agent.remote,
    lag: () => agent.mirror.lag(),
    close: () => node.dataPath?.close(),
  };
}

function localPresent(archive: Archive, recordingId: number, base: number): boolean {
  try {
    return archive.listSegments(recordingId).some((s) => s.base === base && (s.state === 'present' || s.state === 'tombstone'));
  } catch {
    return false;
  }
}

const LOCAL_FENCE_TIMEOUT_MS = 10_000;

/** This node's fence report, once its view shows the fence at `revision` (as a remote participant answers). */
function localFenceReport(node: ClusterNode, agent: ReplicationAgent, recordingId: number, revision: number): Promise<FenceReport> {
  const deadline = node.nowMs() + LOCAL_FENCE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const r = node.view.recording(recordingId);
      if (r && r.modRevision >= revision) {
        if (r.value.state === 'recording') return reject(new VcrError(ErrorCode.FENCED, `recording ${recordingId} is being recorded again (revision ${r.modRevision})`));
        try {
          return resolve({ node: node.nodeId, segments: agent.fenceServer.report(recordingId) });
        } catch (err) {
          return reject(err);
        }
      }
      if (node.nowMs() > deadline) return reject(new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, `the view did not show the fence of recording ${recordingId} in time`));
      setTimeout(check, 10);
    };
    check();
  });
}

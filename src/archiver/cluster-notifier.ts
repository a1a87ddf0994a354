/**
 * Cluster notifications (kind `cluster`): NodeStatusChanged when a node of the cluster file goes
 * down or comes back (as this node's view shows it), and RepairProgress while segments have
 * fewer than K live copies, with `done` when none is left. Level-triggered from the cluster
 * status every heartbeat: a change since the last heartbeat is announced once, so a client
 * sees the same sequence whichever node it watches (each node's view converges on etcd's).
 */
import type { ClusterStatusInfo } from './ports.js';

export interface ClusterNotificationSink {
  nodeStatusChanged(nodeId: string, up: boolean, utcNs: bigint): void;
  repairProgress(segmentsRepaired: number, segmentsRemaining: number, bytesCopied: number, done: boolean): void;
}

export class ClusterNotifier {
  private readonly up = new Map<string, boolean>();
  private remaining = 0;
  private repaired = 0;
  private bytesAtStart = 0;

  constructor(private readonly sink: ClusterNotificationSink) {}

  /** Compares `status` with the last one seen and announces what changed. */
  onStatus(status: ClusterStatusInfo, utcNs: bigint): number {
    let sent = 0;
    for (const n of status.nodes) {
      const was = this.up.get(n.id);
      this.up.set(n.id, n.up);
      if (was !== undefined && was !== n.up) {
        this.sink.nodeStatusChanged(n.id, n.up, utcNs);
        sent++;
      }
    }
    const now = status.underReplicatedSegments;
    if (now !== this.remaining) {
      if (this.remaining === 0) {
        this.repaired = 0;
        this.bytesAtStart = status.bytesToRepair;
      } else if (now < this.remaining) this.repaired += this.remaining - now;
      this.sink.repairProgress(this.repaired, now, Math.max(0, this.bytesAtStart - status.bytesToRepair), now === 0);
      this.remaining = now;
      sent++;
    }
    return sent;
  }
}

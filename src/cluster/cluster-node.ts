/**
 * One archiver's membership in a cluster (docs/REPLICATION.md): it connects to etcd, registers
 * the node (a lease, the member key), keeps the cluster view, and runs the cluster's agents on
 * the archiver's duty cycle: the recorder reconciler, the replica manager, the coordinator
 * candidate, and the data-path services (mirroring, fetching, fences) when they are attached.
 *
 * Start-up is the rejoin of §6: register (NODE_ID_IN_USE, CLUSTER_UNAVAILABLE), list the
 * keyspace and watch it, install the descriptors of recordings made elsewhere, leave the
 * replica entries this directory can no longer back, then mark the node ready. A lost lease
 * starts a new incarnation the same way, while recording goes on locally.
 */
import type { Archive } from '../storage/archive.js';
import type { SealedSegment } from '../storage/types.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { nodeOf, type ClusterConfig } from './cluster-config.js';
import { ClusterView } from './cluster-view.js';
import { ClusterWrites } from './cluster-writes.js';
import { EtcdStore } from './etcd-store.js';
import { clusterHealth, type ClusterHealth } from './health.js';
import { Membership, MembershipState } from './membership.js';
import { RecorderReconciler } from './recorder-reconciler.js';
import { RepairCoordinator, type FenceRpc } from './repair-coordinator.js';
import { ReplicaManager } from './replica-manager.js';
import { Scrubber } from './scrubber.js';
import { ViewSync } from './view-sync.js';

export interface ClusterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The data path (mirroring, fetching, fences, remote reads), attached by the archiver. */
export interface DataPath {
  doWork(): number;
  close(): void;
}

export interface ClusterNodeOptions {
  config: ClusterConfig;
  nodeId: string;
  dir: string;
  archive: Archive;
  /** segment length of new recordings (the verify deadline allows for copying one) */
  segmentLength: number;
  log: ClusterLog;
  nowMs?: () => number;
  /** archive recordings this process is writing now (the replica manager leaves them alone) */
  isRecordingHere: (recordingId: number) => boolean;
}

const START_TIMEOUT_MS = 15_000;

export class ClusterNode {
  readonly writes: ClusterWrites;
  readonly reconciler: RecorderReconciler;
  readonly replicas: ReplicaManager;
  readonly scrubber: Scrubber;
  readonly coordinator: RepairCoordinator;
  dataPath: DataPath | undefined;
  /** set by the data path: fence queries to other nodes */
  fenceRpc: FenceRpc = { query: () => Promise.reject(new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, 'no data path attached')) };
  private rejoining: Promise<void> | undefined;
  incarnations = 0;
  private closed = false;

  private constructor(
    readonly config: ClusterConfig,
    readonly nodeId: string,
    readonly store: EtcdStore,
    readonly membership: Membership,
    readonly view: ClusterView,
    readonly sync: ViewSync,
    readonly archive: Archive,
    readonly log: ClusterLog,
    readonly nowMs: () => number,
    isRecordingHere: (recordingId: number) => boolean,
    segmentLength: number,
  ) {
    this.writes = new ClusterWrites(store, membership);
    this.reconciler = new RecorderReconciler(this.view, this.writes, membership, config.k, nowMs);
    this.reconciler.onError = (err) => log.warn({ error: err instanceof Error ? err.message : String(err) }, 'recorder reconciler write failed');
    this.replicas = new ReplicaManager(this.view, this.writes, membership, archive, config.k, nowMs, log, isRecordingHere);
    this.scrubber = new Scrubber(this.view, membership, archive, this.replicas, isRecordingHere, { bytesPerSec: config.scrubBytesPerSec, intervalMs: config.scrubIntervalMs }, nowMs, log);
    const verifyDeadlineMs = config.graceMs + config.maxLagMs + Math.ceil((segmentLength / config.repairBytesPerSec) * 1000);
    this.coordinator = new RepairCoordinator(
      store,
      this.view,
      this.writes,
      membership,
      config.nodes.map((n) => n.id),
      { k: config.k, graceMs: config.graceMs, verifyDeadlineMs },
      { query: (node, id, rev) => this.fenceRpc.query(node, id, rev) },
      nowMs,
      log,
    );
    membership.onLost = (why) => this.onLeaseLost(why);
  }

  /** Registers the node and rejoins (§6); rejects with NODE_ID_IN_USE, UNKNOWN_NODE or CLUSTER_UNAVAILABLE. */
  static async start(o: ClusterNodeOptions): Promise<ClusterNode> {
    const self = nodeOf(o.config, o.nodeId);
    const nowMs = o.nowMs ?? Date.now;
    const store = new EtcdStore(o.config.etcd, `/vcr/${o.config.name}/`);
    const membership = new Membership(store, o.config.name, self, o.dir, o.config.leaseTtlMs, nowMs);
    try {
      await membership.register();
    } catch (err) {
      store.close();
      throw err;
    }
    const view = new ClusterView();
    const sync = new ViewSync(store, view, self.id, nowMs);
    const node = new ClusterNode(o.config, self.id, store, membership, view, sync, o.archive, o.log, nowMs, o.isRecordingHere, o.segmentLength);
    try {
      await node.rejoin();
    } catch (err) {
      await node.close();
      throw err;
    }
    o.log.info({ node: self.id, incarnation: membership.lease, disk: membership.disk }, 'joined the cluster');
    return node;
  }

  get ready(): boolean {
    return this.membership.ready && this.membership.state === MembershipState.MEMBER;
  }

  get disk(): string {
    return this.membership.disk;
  }

  get incarnation(): string {
    return this.membership.lease;
  }

  /** Storage sealed a segment: the reconciler publishes it if this node records the recording. */
  onSealed(s: SealedSegment): void {
    this.reconciler.onSealed(s.recordingId, s);
  }

  doWork(): number {
    if (this.closed) return 0;
    let work = this.sync.doWork();
    work += this.reconciler.doWork();
    work += this.replicas.doWork();
    work += this.scrubber.doWork();
    work += this.coordinator.doWork();
    if (this.dataPath) work += this.dataPath.doWork();
    return work;
  }

  health(): ClusterHealth {
    return clusterHealth(this.view, this.config.nodes.map((n) => n.id), this.config.k);
  }

  /** Resolves once everything etcd committed before the call is in the view (§8 read barrier). */
  barrier(): Promise<void> {
    if (!this.sync.loaded) return Promise.reject(new VcrError(ErrorCode.NOT_READY, 'the cluster view is not loaded yet'));
    return this.sync.barrier();
  }

  /**
   * After the recordings stopped: keeps the reconciler going until their stops and seals are
   * in etcd, or `ms` passed (a clean stop leaves no recording for the coordinator to fence).
   */
  async drain(ms: number): Promise<void> {
    const deadline = this.nowMs() + ms;
    while (this.reconciler.pending() > 0 && this.nowMs() < deadline && this.membership.trusted()) {
      this.doWork();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.coordinator.close();
    this.dataPath?.close();
    await this.sync.close();
    await this.membership.close();
    this.store.close();
  }

  /** §6 steps 1-5: the view, descriptors, stale replica entries, then ready. */
  private async rejoin(): Promise<void> {
    const deadline = this.nowMs() + START_TIMEOUT_MS;
    while (!this.sync.loaded) {
      if (this.nowMs() > deadline) throw new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, `could not list the cluster keyspace in etcd: ${this.sync.lastError ?? 'no answer'}`);
      this.sync.doWork();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const { value: r } of this.view.recordings.values()) this.replicas.ensureDescriptor(r);
    // entries of this node on another disk, or without a local copy, leave at once (the plan's
    // 'leave' actions); verification of the copies that remain happens per segment, before use
    for (const seg of [...this.view.allSegments()]) {
      const s = seg.value;
      for (const e of s.replicas.filter((x) => x.node === this.nodeId)) {
        let present = false;
        try {
          present = e.disk === this.disk && this.archive.listSegments(s.recordingId).some((l) => l.base === s.base && (l.state === 'present' || l.state === 'tombstone'));
        } catch {
          present = false;
        }
        if (!present) {
          await this.writes.updateSegment(s.recordingId, s.base, (cur) => (cur ? { ...cur, replicas: cur.replicas.filter((x) => !(x.node === e.node && x.disk === e.disk)) } : undefined));
        }
      }
    }
    if (!(await this.membership.setReady(true))) throw new VcrError(ErrorCode.FENCED, 'the lease ended during the rejoin');
    this.incarnations++;
  }

  private onLeaseLost(why: string): void {
    if (this.closed || this.rejoining) return;
    this.log.warn({ node: this.nodeId, why }, 'lease lost: starting a new incarnation (recording continues locally)');
    this.rejoining = (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.membership.register();
          await this.rejoin();
          this.log.info({ node: this.nodeId, incarnation: this.membership.lease }, 'rejoined the cluster as a new incarnation');
          return;
        } catch (err) {
          this.log.warn({ node: this.nodeId, attempt, error: (err as Error).message }, 'rejoin failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(2000, 250 * (attempt + 1))));
        }
      }
    })().finally(() => {
      this.rejoining = undefined;
    });
  }
}

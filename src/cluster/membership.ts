/**
 * A node's membership (docs/REPLICATION.md §6): a lease, the member key `m/<node>` attached
 * to it, and the incarnation (the lease id) that fences every write the node makes.
 *
 * Registration refuses a second live process with the same node id (NODE_ID_IN_USE): the key
 * of a live process never expires because its lease is kept alive, while a dead process's key
 * expires within one TTL, so a start waits at most one TTL (plus a second) for the key to go.
 * The lease of this directory's own previous incarnation (remembered in
 * `<dir>/cluster-node.json`) is revoked at once instead, so a restart after kill -9 is quick.
 * The same file ties the directory to one node id and one cluster: an archive directory is
 * never silently reused by another node.
 *
 * Lease loss (etcd says so, or keep-alives failed for a whole TTL, or the process itself was
 * paused past its TTL, which `trusted()` notices from its own clock before etcd does) ends
 * the incarnation: `onLost` fires once, and the owner re-registers as a new incarnation.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lease } from 'etcd3';
import { ErrorCode, VcrError } from '../util/errors.js';
import { KEY, encodeValue, type MemberValue } from './cluster-keys.js';
import type { ClusterNode } from './cluster-config.js';
import type { Compare, EtcdStore } from './etcd-store.js';

export const MembershipState = {
  UNREGISTERED: 'UNREGISTERED',
  MEMBER: 'MEMBER',
  LOST: 'LOST',
  CLOSED: 'CLOSED',
} as const;
export type MembershipState = (typeof MembershipState)[keyof typeof MembershipState];

interface NodeFile {
  cluster: string;
  node: string;
  /** this directory's disk id (created once, with the directory's first cluster start) */
  disk: string;
  /** the lease of the directory's latest incarnation */
  lease: string;
}

const NODE_FILE = 'cluster-node.json';

/** Checks the directory belongs to this node of this cluster (or to nobody yet). */
export function checkNodeDirectory(dir: string, cluster: string, node: string): NodeFile | undefined {
  const path = join(dir, NODE_FILE);
  if (!existsSync(path)) return undefined;
  let f: NodeFile;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as NodeFile;
  } catch (err) {
    throw new VcrError(ErrorCode.INVALID_CLUSTER_CONFIG, `${path} is not readable JSON (${(err as Error).message}); remove it only if this directory belongs to node ${node}`);
  }
  if (typeof f.disk !== 'string' || f.disk === '') {
    throw new VcrError(ErrorCode.INVALID_CLUSTER_CONFIG, `${path} has no disk id; remove it only if this directory belongs to node ${node}`);
  }
  if (f.cluster !== cluster || f.node !== node) {
    throw new VcrError(
      ErrorCode.INVALID_CLUSTER_CONFIG,
      `archive directory ${dir} belongs to node ${JSON.stringify(f.node)} of cluster ${JSON.stringify(f.cluster)}, not node ${JSON.stringify(node)} of cluster ${JSON.stringify(cluster)}`,
    );
  }
  return f;
}

export class Membership {
  state: MembershipState = MembershipState.UNREGISTERED;
  private leaseHandle: Lease | undefined;
  /** the current incarnation (lease id), '' before registration */
  lease = '';
  /** this directory's disk id */
  disk = '';
  private lastKeepAliveMs = 0;
  private lostFired = false;
  onLost: ((why: string) => void) | undefined;
  ready = false;

  constructor(
    private readonly store: EtcdStore,
    private readonly clusterName: string,
    private readonly self: ClusterNode,
    private readonly dir: string,
    private readonly ttlMs: number,
    private readonly nowMs: () => number,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  get node(): string {
    return this.self.id;
  }

  /** The compare that fences a write on this incarnation. */
  fence(): Compare {
    return { key: KEY.member(this.self.id), target: 'Lease', op: '==', value: this.lease };
  }

  /**
   * False when this process has not heard a successful keep-alive for most of a TTL: it may
   * have been paused past its lease. Decisions that need a live incarnation wait.
   */
  trusted(): boolean {
    return this.state === MembershipState.MEMBER && this.nowMs() - this.lastKeepAliveMs < this.ttlMs * 0.8;
  }

  /**
   * Grants a lease and creates the member key (docs/REPLICATION.md §6 "Start"): the lease of
   * this directory's earlier incarnation is revoked first; a key held by a lease this
   * directory never had is another process, waited for one TTL and a second, then refused.
   * Also used to re-register after a lost lease (a new incarnation).
   */
  async register(): Promise<void> {
    const file = checkNodeDirectory(this.dir, this.clusterName, this.self.id);
    this.disk = file?.disk ?? this.disk ?? '';
    if (this.disk === '') this.disk = randomUUID();
    const previous = new Set([file?.lease, this.lease].filter((x): x is string => !!x));
    const existing = await this.store.get(KEY.member(this.self.id));
    if (existing && previous.has(existing.lease) && sameDisk(existing.value, this.disk)) await this.store.revokeLease(existing.lease);
    const lease = this.store.lease(this.ttlMs);
    let id: string;
    try {
      id = await lease.grant();
    } catch (err) {
      lease.release();
      throw new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, `cannot get a lease from etcd: ${(err as Error).message}`);
    }
    const deadline = this.nowMs() + this.ttlMs + 1000;
    for (;;) {
      const r = await this.store.txn(
        [{ key: KEY.member(this.self.id), target: 'Create', op: '==', value: 0 }],
        [{ put: KEY.member(this.self.id), value: this.memberValue(id, false), lease: id }],
      );
      if (r.succeeded) break;
      const holder = await this.store.get(KEY.member(this.self.id));
      if (this.nowMs() > deadline) {
        await this.store.revokeLease(id);
        lease.release();
        let who = '';
        try {
          const v = JSON.parse(holder?.value ?? '{}') as Partial<MemberValue>;
          who = ` (pid ${v.pid}, since ${v.startedAtMs ? new Date(v.startedAtMs).toISOString() : '?'})`;
        } catch {
          // unreadable value: name no holder
        }
        throw new VcrError(ErrorCode.NODE_ID_IN_USE, `node id ${JSON.stringify(this.self.id)} is held by another live process${who}`);
      }
      await this.sleep(250);
    }
    this.leaseHandle = lease;
    this.lease = id;
    this.lostFired = false;
    this.lastKeepAliveMs = this.nowMs();
    this.state = MembershipState.MEMBER;
    this.ready = false;
    lease.on('keepaliveSucceeded', () => {
      if (this.lease === id) this.lastKeepAliveMs = this.nowMs();
    });
    lease.on('lost', (err) => this.lose(id, `lease lost: ${err.message}`));
    this.writeNodeFile(id);
  }

  /** Marks this incarnation ready (serves reads) or not; fenced on the lease. */
  async setReady(ready: boolean): Promise<boolean> {
    const r = await this.store.txn([this.fence()], [{ put: KEY.member(this.self.id), value: this.memberValue(this.lease, ready), lease: this.lease }]);
    if (r.succeeded) this.ready = ready;
    else this.lose(this.lease, 'member key no longer carries this lease');
    return r.succeeded;
  }

  /** Called by anyone who learns the incarnation is over (a fenced write failed on the lease). */
  lose(id: string, why: string): void {
    if (id !== this.lease || this.lostFired || this.state !== MembershipState.MEMBER) return;
    this.lostFired = true;
    this.state = MembershipState.LOST;
    this.ready = false;
    this.leaseHandle?.release();
    this.leaseHandle = undefined;
    this.onLost?.(why);
  }

  /** Leaves the cluster: revokes the lease (the member key goes at once). */
  async close(): Promise<void> {
    if (this.state === MembershipState.CLOSED) return;
    const id = this.lease;
    this.state = MembershipState.CLOSED;
    this.leaseHandle?.release();
    this.leaseHandle = undefined;
    if (id) await this.store.revokeLease(id);
  }

  private memberValue(lease: string, ready: boolean): string {
    const v: MemberValue = {
      node: this.self.id,
      disk: this.disk,
      lease,
      pid: process.pid,
      control: this.self.control,
      replication: this.self.replication,
      ready,
      startedAtMs: Date.now(),
    };
    return encodeValue(v);
  }

  private writeNodeFile(lease: string): void {
    const f: NodeFile = { cluster: this.clusterName, node: this.self.id, disk: this.disk, lease };
    const path = join(this.dir, NODE_FILE);
    writeFileSync(`${path}.tmp`, JSON.stringify(f));
    renameSync(`${path}.tmp`, path);
  }
}

function sameDisk(memberJson: string, disk: string): boolean {
  try {
    return (JSON.parse(memberJson) as Partial<MemberValue>).disk === disk;
  } catch {
    return false;
  }
}

/**
 * Every write the cluster makes to etcd, each one transaction fenced as docs/REPLICATION.md §3
 * says. A write that fails its compares returns `false` (or throws FENCED when the node's own
 * incarnation is what failed): the caller re-decides from a fresher view; nothing here retries
 * a decision blindly. Read-modify-write of a segment record reads the current value and its
 * mod revision from etcd (not from the view, which may lag), applies the change, and compares
 * the mod revision; a conflict is retried a few times with a fresh read, since the change is a
 * pure function of the current value ("add me to the replica set").
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import {
  KEY,
  decodeValue,
  encodeValue,
  isValidRecording,
  isValidSegment,
  type ClusterDeletion,
  type ClusterHold,
  type ClusterRecording,
  type ClusterSegment,
} from './cluster-keys.js';
import type { Compare, EtcdStore, KeyValue, TxnOp } from './etcd-store.js';
import type { Membership } from './membership.js';

const CAS_ATTEMPTS = 8;

export class ClusterWrites {
  constructor(
    private readonly store: EtcdStore,
    private readonly member: Membership,
  ) {}

  /** Runs a fenced transaction; a failure caused by the node's own lease ends the incarnation. */
  private async fenced(compares: Compare[], ops: TxnOp[]): Promise<boolean> {
    const lease = this.member.lease;
    if (!this.member.trusted()) throw new VcrError(ErrorCode.FENCED, 'this node has not heard from etcd recently: it may have been paused past its lease');
    const r = await this.store.txn([this.member.fence(), ...compares], ops);
    if (r.succeeded) return true;
    const m = await this.store.get(KEY.member(this.member.node));
    if (!m || m.lease !== lease) {
      this.member.lose(lease, 'a fenced write found the member key without this lease');
      throw new VcrError(ErrorCode.FENCED, `node ${this.member.node}: incarnation ${lease} is over`);
    }
    return false;
  }

  // ------------------------------------------------------------------ recordings

  /**
   * Allocates the next recording id and creates its descriptor in one transaction. The token
   * (node, incarnation, request) makes a retried create after an unknown outcome find its own
   * record instead of allocating a second id.
   */
  async createRecording(d: Omit<ClusterRecording, 'recordingId'>, token: string): Promise<ClusterRecording> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS * 4; attempt++) {
      const counter = await this.store.get(KEY.recordingIds);
      const next = counter ? Number(counter.value) : 0;
      if (next > 0) {
        const last = await this.store.get(KEY.recording(next - 1));
        const prev = last ? decodeValue<ClusterRecording>(last.value) : undefined;
        if (prev && prev.token === token) return prev;
      }
      const rec: ClusterRecording = { ...d, recordingId: next, token };
      const ok = await this.fenced(
        [counter ? { key: KEY.recordingIds, target: 'Mod', op: '==', value: counter.modRevision } : { key: KEY.recordingIds, target: 'Create', op: '==', value: 0 }],
        [
          { put: KEY.recordingIds, value: String(next + 1) },
          { put: KEY.recording(next), value: encodeValue(rec) },
        ],
      );
      if (ok) return rec;
    }
    throw new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, 'could not allocate a recording id: too much contention');
  }

  /** Read-modify-write of a recording descriptor; `change` returns undefined to give up. */
  async updateRecording(id: number, change: (r: ClusterRecording, kv: KeyValue) => ClusterRecording | undefined, extra: Compare[] = []): Promise<ClusterRecording | undefined> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const kv = await this.store.get(KEY.recording(id));
      const cur = kv ? decodeValue<ClusterRecording>(kv.value) : undefined;
      if (!kv || !isValidRecording(cur)) return undefined;
      const next = change(cur, kv);
      if (!next) return undefined;
      if (await this.fenced([{ key: KEY.recording(id), target: 'Mod', op: '==', value: kv.modRevision }, ...extra], [{ put: KEY.recording(id), value: encodeValue(next) }])) return next;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ segments

  /** Creates a segment record if absent (idempotent: an existing record is left as it is). */
  async openSegment(s: ClusterSegment): Promise<boolean> {
    return this.fenced([{ key: KEY.segment(s.recordingId, s.base), target: 'Create', op: '==', value: 0 }], [{ put: KEY.segment(s.recordingId, s.base), value: encodeValue(s) }]);
  }

  /**
   * Read-modify-write of a segment record. `change` gets the current value (undefined if
   * absent) and returns the new value, or undefined to leave it. `extra` compares are added
   * (e.g. the mod revisions of counted holders).
   */
  async updateSegment(
    recordingId: number,
    base: number,
    change: (cur: ClusterSegment | undefined) => ClusterSegment | undefined,
    extra: Compare[] = [],
  ): Promise<ClusterSegment | undefined> {
    const key = KEY.segment(recordingId, base);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const kv = await this.store.get(key);
      const parsed = kv ? decodeValue<ClusterSegment>(kv.value) : undefined;
      const cur = isValidSegment(parsed) ? parsed : undefined;
      const next = change(cur);
      if (!next) return undefined;
      const cmp: Compare = kv ? { key, target: 'Mod', op: '==', value: kv.modRevision } : { key, target: 'Create', op: '==', value: 0 };
      if (await this.fenced([cmp, ...extra], [{ put: key, value: encodeValue(next) }])) return next;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ holds and deletions

  private async nextMetaId(): Promise<{ id: number; compare: Compare }> {
    const kv = await this.store.get(KEY.metaIds);
    const id = kv ? Number(kv.value) : 0;
    return { id, compare: kv ? { key: KEY.metaIds, target: 'Mod', op: '==', value: kv.modRevision } : { key: KEY.metaIds, target: 'Create', op: '==', value: 0 } };
  }

  private async holdsVersion(): Promise<{ version: number; compare: Compare }> {
    const kv = await this.store.get(KEY.holdsVersion);
    const version = kv ? Number(kv.value) : 0;
    return { version, compare: kv ? { key: KEY.holdsVersion, target: 'Mod', op: '==', value: kv.modRevision } : { key: KEY.holdsVersion, target: 'Create', op: '==', value: 0 } };
  }

  async addHold(h: Omit<ClusterHold, 'holdId'>): Promise<number> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS * 4; attempt++) {
      const { id, compare } = await this.nextMetaId();
      const v = await this.holdsVersion();
      const ok = await this.fenced(
        [compare, v.compare],
        [
          { put: KEY.metaIds, value: String(id + 1) },
          { put: KEY.holdsVersion, value: String(v.version + 1) },
          { put: KEY.hold(id), value: encodeValue({ ...h, holdId: id }) },
        ],
      );
      if (ok) return id;
    }
    throw new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, 'could not add the hold: too much contention');
  }

  /** false when there is no such hold. */
  async removeHold(holdId: number): Promise<boolean> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const kv = await this.store.get(KEY.hold(holdId));
      if (!kv) return false;
      const v = await this.holdsVersion();
      const ok = await this.fenced(
        [v.compare, { key: KEY.hold(holdId), target: 'Mod', op: '==', value: kv.modRevision }],
        [{ del: KEY.hold(holdId) }, { put: KEY.holdsVersion, value: String(v.version + 1) }],
      );
      if (ok) return true;
    }
    throw new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, 'could not remove the hold: too much contention');
  }

  /**
   * Commits a deletion with the holds that cover it now (§8): the holds are read at version v
   * and the write compares that version, so a hold added meanwhile makes it read again.
   */
  async commitDeletion(d: Omit<ClusterDeletion, 'deletionId' | 'holds'>, covers: (h: ClusterHold) => boolean): Promise<ClusterDeletion> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS * 4; attempt++) {
      const v = await this.holdsVersion();
      const holds = (await this.store.listPrefix('h/'))
        .map((kv) => decodeValue<ClusterHold>(kv.value))
        .filter((h): h is ClusterHold => !!h && typeof h.fromUtcNs === 'bigint' && typeof h.toUtcNs === 'bigint')
        .filter(covers)
        .map((h) => ({ ...(h.channel !== undefined ? { channel: h.channel } : {}), fromUtcNs: h.fromUtcNs, toUtcNs: h.toUtcNs }));
      const { id, compare } = await this.nextMetaId();
      const deletion: ClusterDeletion = { ...d, deletionId: id, holds };
      const ok = await this.fenced(
        [compare, v.compare],
        [
          { put: KEY.metaIds, value: String(id + 1) },
          { put: KEY.deletion(id), value: encodeValue(deletion) },
        ],
      );
      if (ok) return deletion;
    }
    throw new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, 'could not commit the deletion: too much contention');
  }
}

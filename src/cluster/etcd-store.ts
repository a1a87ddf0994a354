/**
 * The only module that talks to etcd (npm `etcd3`). It offers what the cluster needs and no
 * more: a consistent listing of the keyspace with its revision, a watch from a revision,
 * transactions with compares (every write of the cluster is one: docs/REPLICATION.md §3,
 * "Fencing"), a linearizable read of the current revision, leases, and the election.
 *
 * Every call has a deadline, so an unreachable etcd makes calls fail (CLUSTER_UNAVAILABLE)
 * instead of hanging; retrying is the caller's decision (a fenced write must be re-decided,
 * not blindly re-sent). Keys are relative to the cluster's namespace `/vcr/<name>/`.
 */
import { noop } from 'cockatiel';
import { Etcd3, type Namespace, type Watcher, type Lease, type IKeyValue } from 'etcd3';
import { ErrorCode, VcrError } from '../util/errors.js';

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** lease id (decimal string), '0' when none */
  lease: string;
}

export type CompareTarget = 'Version' | 'Create' | 'Mod' | 'Value' | 'Lease';
export type CompareOp = '==' | '!=' | '<' | '>';

export interface Compare {
  key: string;
  target: CompareTarget;
  op: CompareOp;
  value: string | number;
}

export type TxnOp = { put: string; value: string; lease?: string } | { del: string };

export interface TxnResult {
  succeeded: boolean;
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface WatchHandle {
  close(): Promise<void>;
}

const CALL_DEADLINE_MS = 2_000;

function toKv(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'), // the namespace strips the prefix
    value: kv.value.toString('utf8'),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease ?? '0',
  };
}

export function unavailable(err: unknown, what: string): VcrError {
  if (err instanceof VcrError) return err;
  return new VcrError(ErrorCode.CLUSTER_UNAVAILABLE, `etcd ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
}

export class EtcdStore {
  private readonly client: Etcd3;
  readonly ns: Namespace;
  private closed = false;

  constructor(
    endpoints: string[],
    readonly prefix: string,
  ) {
    this.client = new Etcd3({
      hosts: endpoints.map((e) => `http://${e}`),
      dialTimeout: 1_000,
      defaultCallOptions: () => ({ deadline: Date.now() + CALL_DEADLINE_MS }),
      // no library retries: the cluster layer decides what to retry (fenced writes are re-decided)
      faultHandling: { global: noop, host: () => noop },
    });
    this.ns = this.client.namespace(prefix);
  }

  /** Every key of the namespace with the revision it was read at. */
  async listAll(): Promise<{ revision: number; kvs: KeyValue[] }> {
    try {
      const r = await this.ns.getAll().exec();
      return { revision: Number(r.header.revision), kvs: r.kvs.map((kv) => toKv(kv)) };
    } catch (err) {
      throw unavailable(err, 'listing');
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    try {
      const r = await this.ns.get(key).exec();
      const kv = r.kvs[0];
      return kv ? toKv(kv) : undefined;
    } catch (err) {
      throw unavailable(err, `read of ${key}`);
    }
  }

  /** The keys under `prefix` (relative to the namespace), read linearizably. */
  async listPrefix(prefix: string): Promise<KeyValue[]> {
    try {
      const r = await this.ns.getAll().prefix(prefix).exec();
      return r.kvs.map((kv) => toKv(kv));
    } catch (err) {
      throw unavailable(err, `listing ${prefix}`);
    }
  }

  /** etcd's current revision, read linearizably (a quorum read). */
  async currentRevision(): Promise<number> {
    try {
      const r = await this.ns.get('ids/recording').exec();
      return Number(r.header.revision);
    } catch (err) {
      throw unavailable(err, 'revision read');
    }
  }

  async txn(compares: Compare[], thenOps: TxnOp[], elseOps: TxnOp[] = []): Promise<TxnResult> {
    const toOp = (o: TxnOp) => {
      if ('del' in o) return this.ns.delete().key(o.del);
      const p = this.ns.put(o.put).value(o.value);
      return o.lease ? p.lease(o.lease) : p;
    };
    try {
      let b = compares.length > 0 ? this.ns.if(compares[0]!.key, compares[0]!.target, compares[0]!.op, compares[0]!.value) : this.ns.if('ids/recording', 'Version', '>', -1);
      for (const c of compares.slice(1)) b = b.and(c.key, c.target, c.op, c.value);
      const r = await b.then(...thenOps.map(toOp)).else(...elseOps.map(toOp)).commit();
      return { succeeded: r.succeeded, revision: Number(r.header.revision) };
    } catch (err) {
      throw unavailable(err, 'transaction');
    }
  }

  /**
   * Watches the namespace from `fromRevision` (inclusive). Events arrive in revision order
   * with the revision of their response; `onError` is told when the watch cannot continue
   * (e.g. the revision was compacted), after which the caller lists again.
   */
  async watch(fromRevision: number, onEvents: (events: WatchEvent[], revision: number) => void, onError: (err: Error) => void): Promise<WatchHandle> {
    let watcher: Watcher;
    try {
      watcher = await this.ns.watch().prefix('').startRevision(String(fromRevision)).create();
    } catch (err) {
      throw unavailable(err, 'watch');
    }
    watcher.on('data', (res) => {
      const events: WatchEvent[] = (res.events ?? []).map((e) => ({ type: e.type === 'Delete' ? 'delete' : 'put', kv: toKv(e.kv) }));
      onEvents(events, Number(res.header.revision));
    });
    watcher.on('error', (err) => onError(err));
    return { close: () => watcher.cancel() };
  }

  /** A lease kept alive by the client library; `lost` fires when etcd says it is gone or it must have expired. */
  lease(ttlMs: number): Lease {
    return this.ns.lease(Math.max(1, Math.ceil(ttlMs / 1000)), { autoKeepAlive: true });
  }

  async revokeLease(id: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id });
    } catch {
      // already gone
    }
  }

  async leaseTimeToLive(id: string): Promise<number> {
    try {
      const r = await this.client.leaseClient.leaseTimeToLive({ ID: id });
      return Number(r.TTL);
    } catch (err) {
      throw unavailable(err, 'lease query');
    }
  }

  election(name: string, ttlMs: number) {
    return this.ns.election(name, Math.max(1, Math.ceil(ttlMs / 1000)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}

/**
 * Keeps a ClusterView in step with etcd: one listing at revision R, then a watch from R+1.
 * The watch callback only queues; `doWork()` applies queued events on the duty cycle, so
 * the view never changes in the middle of a decision. When the watch fails (etcd restarted,
 * the revision was compacted) the view is listed again and a new watch starts from there.
 *
 * `barrier()` is the linearizable read fence of docs/REPLICATION.md §8: it writes this
 * node's `sync/<node>` key and resolves once the watch has delivered that write, so
 * everything committed in etcd before the barrier started is in the view. Concurrent
 * barriers share one write.
 */
import { KEY } from './cluster-keys.js';
import type { ClusterView } from './cluster-view.js';
import type { EtcdStore, WatchEvent, WatchHandle } from './etcd-store.js';

export const ViewSyncState = {
  LISTING: 'LISTING',
  WATCHING: 'WATCHING',
  BACKOFF: 'BACKOFF',
  CLOSED: 'CLOSED',
} as const;
export type ViewSyncState = (typeof ViewSyncState)[keyof typeof ViewSyncState];

interface Waiter {
  revision: number;
  resolve: () => void;
}

export class ViewSync {
  state: ViewSyncState = ViewSyncState.BACKOFF;
  private queue: { events: WatchEvent[]; revision: number; generation: number }[] = [];
  private listing: { kvs: Parameters<ClusterView['load']>[0]; revision: number; generation: number } | undefined;
  private watch: WatchHandle | undefined;
  private generation = 0;
  private retryAtMs = 0;
  private waiters: Waiter[] = [];
  private pendingBarrier: Promise<void> | undefined;
  private barrierSeq = 0;
  lastError: string | undefined;
  /** true once the first listing has been applied */
  loaded = false;

  constructor(
    private readonly store: EtcdStore,
    readonly view: ClusterView,
    private readonly node: string,
    private readonly nowMs: () => number,
  ) {}

  doWork(): number {
    let work = 0;
    if (this.state === ViewSyncState.BACKOFF && this.nowMs() >= this.retryAtMs) {
      this.startListing();
      work++;
    }
    if (this.listing && this.listing.generation === this.generation) {
      this.view.load(this.listing.kvs, this.listing.revision);
      this.listing = undefined;
      this.loaded = true;
      work++;
    }
    while (this.queue.length > 0) {
      const q = this.queue.shift()!;
      if (q.generation !== this.generation) continue;
      this.view.apply(q.events, q.revision);
      work++;
    }
    if (this.waiters.length > 0) {
      const rev = this.view.revision;
      const done = this.waiters.filter((w) => w.revision <= rev);
      if (done.length > 0) {
        this.waiters = this.waiters.filter((w) => w.revision > rev);
        for (const w of done) w.resolve();
        work++;
      }
    }
    return work;
  }

  /** Resolves once the view holds everything etcd had committed when this was called. */
  barrier(): Promise<void> {
    if (!this.pendingBarrier) {
      this.pendingBarrier = (async () => {
        try {
          const r = await this.store.txn([], [{ put: KEY.sync(this.node), value: String(++this.barrierSeq) }]);
          await new Promise<void>((resolve) => this.waiters.push({ revision: r.revision, resolve }));
        } finally {
          this.pendingBarrier = undefined;
        }
      })();
    }
    return this.pendingBarrier;
  }

  async close(): Promise<void> {
    this.state = ViewSyncState.CLOSED;
    this.generation++;
    const w = this.watch;
    this.watch = undefined;
    await w?.close().catch(() => undefined);
  }

  private startListing(): void {
    this.state = ViewSyncState.LISTING;
    const gen = ++this.generation;
    const old = this.watch;
    this.watch = undefined;
    void old?.close().catch(() => undefined);
    void (async () => {
      try {
        const { kvs, revision } = await this.store.listAll();
        if (gen !== this.generation) return;
        this.listing = { kvs, revision, generation: gen };
        const w = await this.store.watch(
          revision + 1,
          (events, rev) => {
            if (gen === this.generation) this.queue.push({ events, revision: rev, generation: gen });
          },
          (err) => this.fail(gen, err),
        );
        if (gen !== this.generation) {
          void w.close().catch(() => undefined);
          return;
        }
        this.watch = w;
        this.state = ViewSyncState.WATCHING;
      } catch (err) {
        this.fail(gen, err);
      }
    })();
  }

  private fail(gen: number, err: unknown): void {
    if (gen !== this.generation || this.state === ViewSyncState.CLOSED) return;
    this.lastError = err instanceof Error ? err.message : String(err);
    this.generation++;
    this.state = ViewSyncState.BACKOFF;
    this.retryAtMs = this.nowMs() + 250;
  }
}

/**
 * Runs retention passes (RetentionSession) on the archiver's duty cycle, one at a time: the
 * scheduled ones (every `retention.interval`, the first 5 minutes after start-up) and the ones
 * clients ask for (`vcr retention run`, `vcr retention --dry-run`). A request joins a pass of
 * its kind (run or dry run) that is waiting or running.
 *
 * In a cluster the schedule runs only where `mayRunScheduled()` says so — the node that holds
 * the repair coordinator's key in etcd — so one node at a time runs retention; its deletions
 * go through the cluster's delete path and apply on every node. A requested run executes on
 * the node asked (its deletions are cluster-wide just the same).
 *
 * When a run ends it is logged, counted (retentionRuns, retentionEventsDeleted,
 * retentionBytesDeleted, retentionLastRunMs) and, if it deleted something or a client asked
 * for it, announced by a RetentionRunEnded notification.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverClock, ArchiverLog } from './archiver-services.js';
import type { ArchiveStore } from './ports.js';
import type { RetentionConfig } from './retention-config.js';
import { RetentionSession, type RetentionResult } from './retention-session.js';

/** What the request handlers may ask of retention. */
export interface RetentionOps {
  /** Resolves when the pass ends; rejects NOT_ALLOWED when no retention is configured. */
  start(dryRun: boolean): Promise<RetentionResult>;
}

/** The notification sent when a run ends (NotificationProxy.retentionRunEnded). */
export type RetentionRunNotifier = (r: RetentionResult) => void;

export interface RetentionManagerDeps {
  config: RetentionConfig | undefined;
  store: ArchiveStore;
  clock: ArchiverClock;
  log: ArchiverLog;
  counters: ArchiverCounters;
  notify: RetentionRunNotifier;
  /** false where another node runs the schedule (cluster: not the coordinator) */
  mayRunScheduled?: () => boolean;
}

/**
 * The first scheduled pass after start-up comes after this, or after the interval if shorter:
 * soon enough that an archiver restarted more often than its interval still runs retention,
 * late enough not to add to the work of starting up (rejoining a cluster, recovery).
 */
const FIRST_RUN_DELAY_NS = 300_000_000_000n;
const NS_PER_MS = 1_000_000n;

interface Queued {
  session: RetentionSession;
  waiters: { resolve: (r: RetentionResult) => void; reject: (e: Error) => void }[];
}

export class RetentionManager implements RetentionOps {
  private readonly queue: Queued[] = [];
  private nextRunNs: bigint | undefined;
  private nextId = 1;
  private closed = false;

  constructor(private readonly deps: RetentionManagerDeps) {}

  get active(): RetentionSession | undefined {
    return this.queue[0]?.session;
  }

  start(dryRun: boolean): Promise<RetentionResult> {
    if (this.closed) return Promise.reject(new VcrError(ErrorCode.NOT_ALLOWED, 'the archiver is stopping'));
    if (!this.deps.config) return Promise.reject(new VcrError(ErrorCode.NOT_ALLOWED, "this archiver has no retention limits (config key 'retention')"));
    return new Promise((resolve, reject) => {
      // a request joins a pass of its kind that is waiting or running, so a client that asks
      // again (its first answer timed out on a long pass) waits for the same pass
      const joined = this.queue.find((q) => q.session.opts.dryRun === dryRun);
      const q = joined ?? this.enqueue(dryRun, true);
      q.waiters.push({ resolve, reject });
    });
  }

  doWork(): number {
    if (this.closed) return 0;
    const config = this.deps.config;
    let work = 0;
    if (config) {
      const now = this.deps.clock.nanoTime();
      const interval = BigInt(config.intervalMs) * NS_PER_MS;
      this.nextRunNs ??= now + (interval < FIRST_RUN_DELAY_NS ? interval : FIRST_RUN_DELAY_NS);
      if (now >= this.nextRunNs) {
        this.nextRunNs = now + interval;
        if ((this.deps.mayRunScheduled?.() ?? true) && !this.queue.some((q) => !q.session.opts.dryRun)) {
          this.enqueue(false, false);
          work++;
        }
      }
    }
    const head = this.queue[0];
    if (!head) return work;
    work += head.session.doWork();
    if (head.session.isDone()) {
      this.queue.shift();
      this.finished(head);
      work++;
    }
    return work;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0)) {
      q.session.close();
      for (const w of q.waiters) w.reject(new VcrError(ErrorCode.NOT_ALLOWED, 'the archiver is stopping'));
    }
  }

  private enqueue(dryRun: boolean, requested: boolean): Queued {
    const session = new RetentionSession(this.nextId++, { dryRun, requested }, {
      store: this.deps.store,
      config: this.deps.config!,
      utcNow: () => this.deps.clock.epochNanos(),
      nanoTime: () => this.deps.clock.nanoTime(),
      log: this.deps.log,
    });
    const q: Queued = { session, waiters: [] };
    this.queue.push(q);
    return q;
  }

  private finished(q: Queued): void {
    const r = q.session.result;
    if (q.waiters.length > 0) r.requested = true; // a client joined a scheduled run: it hears the end too
    const { counters, log } = this.deps;
    const durationMs = Number((r.endUtcNs - r.startUtcNs) / NS_PER_MS);
    if (!r.dryRun) {
      counters.add('retentionRuns');
      counters.add('retentionEventsDeleted', r.events);
      counters.add('retentionBytesDeleted', r.bytes);
      counters.set('retentionLastRunMs', Number(r.endUtcNs / NS_PER_MS));
      if (r.errors.length > 0) counters.add('errors', r.errors.length);
      log.info(
        { runId: r.runId, requested: r.requested, channels: r.channels, eventsDeleted: r.events, bytesDeleted: r.bytes, errors: r.errors.length, durationMs },
        'retention run',
      );
      if (r.events > 0 || r.requested) this.deps.notify(r);
    } else {
      log.info({ runId: r.runId, channels: r.channels, events: r.events, bytes: r.bytes, errors: r.errors.length, durationMs }, 'retention dry run');
    }
    for (const w of q.waiters) w.resolve(r);
  }
}

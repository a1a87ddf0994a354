/**
 * The cluster data path of one node (docs/REPLICATION.md §5, §7, §9) as one agent: it builds
 * the services over one PeerNetwork, installs the inbound adapter as the network's handlers,
 * and steps every service from `doWork()` on the archiver's duty cycle. The network itself is
 * stepped by its owner (`network.doWork()`, which decodes inbound messages into the services);
 * call it before this agent's doWork in the same cycle.
 *
 *   mirror      MirrorService: live frames of this node's open segments to their targets
 *   receiver    ReplicaReceiver: mirrored frames into `.part` files, installed once sealed
 *   server      FetchServer: fetches and queries asked of this node (fence queries: fenceServer)
 *   fetcher     SegmentFetcher: copies of sealed segments (repair, catch-up, rejoin)
 *   queries     PeerQueries: fence queries (the coordinator's FenceRpc), positions, suspects
 *   remote      RemoteSegments: reads of segments held elsewhere
 */
import type { SegmentSummary } from '../../storage/archive.js';
import type { VcrError } from '../../util/errors.js';
import { FenceServer } from './fence-server.js';
import { FetchServer, type FetchServerOptions } from './fetch-server.js';
import { IncomingParts } from './incoming-parts.js';
import { MirrorService, type MirrorDeps, type MirrorOptions } from './mirror-service.js';
import { PeerQueries, type PeerQueryOptions } from './peer-queries.js';
import { RemoteSegments, type RemoteDeps, type RemoteOptions } from './remote-segments.js';
import { ReplicaReceiver, type ReceiverOptions } from './replica-receiver.js';
import { ReplicationAdapter } from './replication-adapter.js';
import type { ReplicationContext } from './replication-context.js';
import { ReplicationProxy } from './replication-proxy.js';
import { RequestRegistry } from './request-registry.js';
import { SegmentFetcher, type FetcherOptions } from './segment-fetcher.js';

/** What the node (the lead's ClusterNode) tells the data path; see each service for details. */
export interface ReplicationDeps extends MirrorDeps, RemoteDeps {
  /** the local descriptor of R exists before a copy of one of its segments is installed */
  ensureDescriptor(recordingId: number): void;
  /** a verified copy of (R, base) was installed here by a mirror stream: join the replica set */
  onCopied(recordingId: number, base: number, summary: SegmentSummary): void;
  /** a copy of (R, base) failed verification: a received one was discarded, or one this node serves is damaged */
  onCorrupt(recordingId: number, base: number, error: VcrError): void;
  /** this node may serve (R, base): a verified copy, or the recorder's open segment */
  canServe(recordingId: number, base: number): boolean;
}

export interface ReplicationOptions {
  repairBytesPerSec: number;
  mirror?: MirrorOptions;
  receiver?: ReceiverOptions;
  server?: FetchServerOptions;
  fetcher?: Omit<FetcherOptions, 'repairBytesPerSec'>;
  queries?: PeerQueryOptions;
  remote?: RemoteOptions;
}

export class ReplicationAgent {
  readonly proxy = new ReplicationProxy();
  readonly requests = new RequestRegistry();
  readonly parts: IncomingParts;
  readonly mirror: MirrorService;
  readonly receiver: ReplicaReceiver;
  readonly fenceServer: FenceServer;
  readonly server: FetchServer;
  readonly queries: PeerQueries;
  readonly fetcher: SegmentFetcher;
  readonly remote: RemoteSegments;
  readonly adapter: ReplicationAdapter;
  private closed = false;

  constructor(
    readonly ctx: ReplicationContext,
    deps: ReplicationDeps,
    options: ReplicationOptions,
  ) {
    this.parts = new IncomingParts(ctx.dir);
    this.mirror = new MirrorService(ctx, this.proxy, deps, options.mirror);
    this.receiver = new ReplicaReceiver(ctx, this.proxy, this.parts, deps, options.receiver);
    this.fenceServer = new FenceServer(ctx, this.proxy, this.parts);
    this.server = new FetchServer(ctx, this.proxy, deps, this.fenceServer, options.server);
    this.queries = new PeerQueries(ctx, this.proxy, this.requests, options.queries);
    this.fetcher = new SegmentFetcher(ctx, this.proxy, this.requests, this.queries, this.parts, deps, { ...options.fetcher, repairBytesPerSec: options.repairBytesPerSec });
    this.remote = new RemoteSegments(ctx, this.proxy, this.requests, this.queries, deps, options.remote);
    this.adapter = new ReplicationAdapter(this.mirror, this.receiver, this.server, this.requests, []);
    ctx.network.handlers = this.adapter;
  }

  doWork(): number {
    if (this.closed) return 0;
    return (
      this.receiver.doWork() +
      this.fenceServer.doWork() +
      this.server.doWork() +
      this.mirror.doWork() +
      this.queries.doWork() +
      this.fetcher.doWork() +
      this.remote.doWork()
    );
  }

  /** Stops every service (pending fetches and queries reject); parts stay on disk for the next run. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ctx.network.handlers === this.adapter) this.ctx.network.handlers = undefined;
    this.mirror.close();
    this.receiver.close();
    this.server.close();
    this.fenceServer.close();
    this.queries.close();
    this.fetcher.close();
    this.remote.close();
    this.parts.closeAll();
  }
}

/**
 * The Prometheus text endpoint (`GET /metrics` on 127.0.0.1:metricsPort), built with
 * prom-client. Values are pulled from ArchiverCounters when scraped, so nothing on the hot
 * path touches prom-client. Global counters become `vcr_<name>` gauges; per-channel counters
 * become `vcr_channel_<name>{channel="..."}`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ClusterStatusInfo } from './ports.js';
import { CHANNEL_COUNTERS, GLOBAL_COUNTERS, type ArchiverCounters } from './archiver-counters.js';

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export class ArchiverMetrics {
  readonly registry = new Registry();
  private server: Server | undefined;

  constructor(
    private readonly counters: ArchiverCounters,
    clusterStatus?: () => ClusterStatusInfo,
  ) {
    if (clusterStatus) this.registerCluster(clusterStatus);
    for (const name of GLOBAL_COUNTERS) {
      new Gauge({
        name: `vcr_${snake(name)}`,
        help: `VCR archiver counter ${name}`,
        registers: [this.registry],
        collect() {
          this.set(counters.get(name));
        },
      });
    }
    for (const name of CHANNEL_COUNTERS) {
      new Gauge({
        name: `vcr_channel_${snake(name)}`,
        help: `VCR archiver per-channel counter ${name}`,
        labelNames: ['channel'],
        registers: [this.registry],
        collect() {
          for (const ch of counters.channelNames()) this.set({ channel: ch }, counters.getChannel(ch, name));
        },
      });
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'vcr_process_' });
  }

  /** Cluster gauges (docs/REPLICATION.md §7 "Progress"), from the same status `vcr cluster status` shows. */
  private registerCluster(status: () => ClusterStatusInfo): void {
    const registers = [this.registry];
    new Gauge({ name: 'vcr_cluster_under_replicated_segments', help: 'sealed segments with fewer than K live verified copies', registers, collect() { this.set(status().underReplicatedSegments); } });
    new Gauge({ name: 'vcr_cluster_bytes_to_repair', help: 'bytes still to copy until every sealed segment has K copies', registers, collect() { this.set(status().bytesToRepair); } });
    new Gauge({ name: 'vcr_cluster_repairing', help: '1 while under-replicated segments have a target copying them', registers, collect() { this.set(status().repairing ? 1 : 0); } });
    new Gauge({
      name: 'vcr_cluster_node_up',
      help: '1 when the node is a live member (lease in etcd)',
      labelNames: ['node'],
      registers,
      collect() {
        for (const n of status().nodes) this.set({ node: n.id }, n.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vcr_cluster_node_segments',
      help: 'segments this node holds verified copies of',
      labelNames: ['node'],
      registers,
      collect() {
        for (const n of status().nodes) this.set({ node: n.id }, n.segments);
      },
    });
    new Gauge({
      name: 'vcr_cluster_mirror_lag_bytes',
      help: "how far the node's mirror copies lag behind this node's recordings",
      labelNames: ['node'],
      registers,
      collect() {
        for (const n of status().nodes) this.set({ node: n.id }, n.lagBytes);
      },
    });
    new Gauge({
      name: 'vcr_cluster_mirror_lag_ms',
      help: 'the same lag in event time',
      labelNames: ['node'],
      registers,
      collect() {
        for (const n of status().nodes) this.set({ node: n.id }, n.lagMs);
      },
    });
  }

  /** Prometheus text exposition of every counter. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Starts the HTTP endpoint; resolves with the bound port. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
        return;
      }
      this.text().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = undefined;
        reject(
          err.code === 'EADDRINUSE'
            ? new VcrError(ErrorCode.ADDRESS_IN_USE, `metrics port ${port} is already in use`)
            : new VcrError(ErrorCode.INVALID_ARGUMENT, `cannot serve metrics on ${host}:${port}: ${err.message}`),
        );
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.closeAllConnections?.();
      s.close(() => resolve());
    });
  }
}

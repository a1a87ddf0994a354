/**
 * The Prometheus text of `GET /metrics` (served by the HTTP server, src/archiver/http/), built
 * with prom-client. Values are pulled from ArchiverCounters when scraped, so nothing on the hot
 * path touches prom-client. Global counters become `vcr_<name>` gauges; per-channel counters
 * become `vcr_channel_<name>{channel="..."}`.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterStatusInfo } from './ports.js';
import { CHANNEL_COUNTERS, GLOBAL_COUNTERS, type ArchiverCounters } from './archiver-counters.js';

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export class ArchiverMetrics {
  readonly registry = new Registry();

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
    const scrub = (which: 'segments' | 'bytes' | 'failures') => status().scrub?.[which] ?? 0;
    new Gauge({ name: 'vcr_cluster_scrubbed_segments', help: "copies this node's scrubber re-checked since start", registers, collect() { this.set(scrub('segments')); } });
    new Gauge({ name: 'vcr_cluster_scrubbed_bytes', help: "bytes this node's scrubber walked since start", registers, collect() { this.set(scrub('bytes')); } });
    new Gauge({ name: 'vcr_cluster_scrub_failures', help: "copies this node's scrubber found bad since start (each is rebuilt from another copy)", registers, collect() { this.set(scrub('failures')); } });
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
}

import { describe, expect, it } from 'vitest';
import { ArchiverCounters } from '../../src/archiver/archiver-counters.js';
import { ArchiverMetrics } from '../../src/archiver/archiver-metrics.js';
import type { ClusterStatusInfo } from '../../src/archiver/ports.js';

describe('/metrics in cluster mode', () => {
  it('exposes the cluster status as gauges, read at scrape time', async () => {
    let status: ClusterStatusInfo = {
      k: 2,
      underReplicatedSegments: 3,
      repairing: true,
      bytesToRepair: 196608,
      nodes: [
        { id: 'a', up: true, ready: true, segments: 7, bytes: 1, lagBytes: 4096, lagMs: 12 },
        { id: 'b', up: false, ready: false, segments: 0, bytes: 0, lagBytes: 0, lagMs: 0 },
      ],
      scrub: { segments: 5, bytes: 5242880, failures: 1 },
    };
    const m = new ArchiverMetrics(new ArchiverCounters(), () => status);
    const text = await m.text();
    expect(text).toContain('vcr_cluster_under_replicated_segments 3');
    expect(text).toContain('vcr_cluster_bytes_to_repair 196608');
    expect(text).toContain('vcr_cluster_repairing 1');
    expect(text).toContain('vcr_cluster_node_up{node="b"} 0');
    expect(text).toContain('vcr_cluster_node_segments{node="a"} 7');
    expect(text).toContain('vcr_cluster_mirror_lag_bytes{node="a"} 4096');
    expect(text).toContain('vcr_cluster_scrubbed_segments 5');
    expect(text).toContain('vcr_cluster_scrubbed_bytes 5242880');
    expect(text).toContain('vcr_cluster_scrub_failures 1');
    status = { ...status, underReplicatedSegments: 0, repairing: false, bytesToRepair: 0 };
    expect(await m.text()).toContain('vcr_cluster_under_replicated_segments 0');
  });

  it('has no cluster gauges on a single node', async () => {
    expect(await new ArchiverMetrics(new ArchiverCounters()).text()).not.toContain('vcr_cluster_');
  });
});

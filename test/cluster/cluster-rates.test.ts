/**
 * The console's event-rate strip (EventRates) on a cluster node that did not record the
 * channel: rates come from this node's own time index of the copies it holds, so a quiet gap in
 * the middle of a recording shows as a gap, not as the recording's average rate spread evenly.
 * Real processes, real etcd, real UDP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, sleep, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { kCopies, sendEvents } from './support/cluster-checks.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

describe('event rates in a cluster', () => {
  it('a node holding mirrored copies shows a quiet gap in a recording made on another node as a gap', async () => {
    cluster = await Cluster.start({ n: 2, k: 2 });
    const c = cluster;
    const recorder = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await recorder.startRecording({ channel: 'bursty', source: `udp://127.0.0.1:${port}` });
    const first = await sendEvents(port, 'one', 1000);
    await until('the first burst recorded', async () => (await recorder.describeRecording(recordingId)).eventCount >= first.length, 20_000);
    const gapFromNs = BigInt(Date.now()) * 1_000_000n;
    await sleep(2500); // the quiet gap in event time that the rates must show (not a wait for anything)
    const gapToNs = BigInt(Date.now()) * 1_000_000n;
    const second = await sendEvents(port, 'two', 1000);
    await until('the second burst recorded', async () => (await recorder.describeRecording(recordingId)).eventCount >= first.length + second.length, 20_000);
    await recorder.stopRecording({ recordingId });
    await recorder.close();
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);

    const b = await c.node('b').client();
    try {
      const d = await until('the stop on b', async () => {
        const x = await b.describeRecording(recordingId);
        return x.stopUtcNs > 0n && x.eventCount >= 2000 ? x : undefined;
      }, 20_000);
      const buckets = 40;
      const [rates] = await b.eventRates({ channel: 'bursty', fromUtcNs: d.startUtcNs, toUtcNs: d.stopUtcNs + 1n, buckets });
      expect(rates).toBeDefined();
      const width = (d.stopUtcNs + 1n - d.startUtcNs) / BigInt(buckets);
      let inGap = 0;
      let gapBuckets = 0;
      for (let i = 0; i < buckets; i++) {
        const from = d.startUtcNs + BigInt(i) * width;
        // buckets well inside the gap (a stride of interpolation at each edge is allowed)
        if (from >= gapFromNs + 300_000_000n && from + width <= gapToNs - 300_000_000n) {
          inGap += rates!.events[i]!;
          gapBuckets++;
        }
      }
      const total = rates!.events.reduce((s, x) => s + x, 0);
      expect(gapBuckets).toBeGreaterThan(5);
      expect(Math.abs(total - 2000)).toBeLessThan(100);
      // evenly spread, the gap's buckets would hold about gapBuckets/buckets of the events (> 300);
      // interpolation across the index samples at the gap's edges may spill about a stride (4 KiB,
      // ~20 events) into each side
      expect(inGap).toBeLessThan(60);
    } finally {
      await b.close();
    }
  }, 90_000);
});

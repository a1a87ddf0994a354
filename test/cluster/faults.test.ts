/**
 * The replication invariants of docs/REPLICATION.md §10, each checked on a real cluster: one
 * real etcd and real `vcr archiver --cluster` processes on loopback, killed with SIGKILL,
 * paused with SIGSTOP, wiped and restarted. Every check reads through the client library of
 * the nodes that are up, and through etcd's segment records and the nodes' files.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { kCopies, payloadsOf, recordings, segments, sendEvents } from './support/cluster-checks.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

/** Records `count` events on node `on` into a new recording of `channel`, stops it; returns its id and payloads. */
async function recordOn(c: Cluster, on: string, channel: string, count: number): Promise<{ recordingId: number; sent: string[] }> {
  const client = await c.node(on).client();
  try {
    const port = await freeUdpPort();
    const recordingId = await client.startRecording({ channel, source: `udp://127.0.0.1:${port}` });
    const sent = await sendEvents(port, channel, count);
    await until('all events recorded', async () => (await client.describeRecording(recordingId)).eventCount >= count, 20_000);
    await client.stopRecording({ recordingId });
    return { recordingId, sent };
  } finally {
    await client.close();
  }
}

describe('replication on a real cluster', () => {
  it('keeps K verified copies of every sealed segment on placement targets, and every node serves the same events', async () => {
    cluster = await Cluster.start({ n: 3, k: 2 });
    const c = cluster;
    const { recordingId, sent } = await recordOn(c, 'a', 'radar', 2000); // ~8 segments of 64 KiB
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    const segs = (await segments(c)).filter((s) => s.recordingId === recordingId);
    expect(segs.length).toBeGreaterThan(3);
    for (const s of segs.filter((x) => x.state === 'sealed' && x.end > x.base)) {
      // the copies counted are the placement's (the recorder drops its own once K placed copies verify)
      await until(`only placed copies of ${s.base}`, async () => {
        const cur = (await segments(c)).find((x) => x.recordingId === recordingId && x.base === s.base)!;
        return cur.replicas.every((e) => cur.placement.includes(e.node)) && cur.replicas.length === 2;
      }, 20_000);
    }
    for (const n of c.up()) {
      const client = await n.client();
      try {
        const got = await payloadsOf(client, recordingId).catch(async (e) => {
          console.log('READ FAIL on', n.id, String(e), JSON.stringify((await segments(c)).map((x) => [x.base, x.state, x.placement, x.replicas.map((r) => r.node)])));
          console.log(n.log.slice(-4000));
          throw e;
        });
        expect({ node: n.id, count: got.length }).toEqual({ node: n.id, count: sent.length });
        expect(got.every((x, i) => x === sent[i])).toBe(true);
        const st = await client.clusterStatus();
        expect(st.k).toBe(2);
        expect(st.underReplicatedSegments).toBe(0);
        expect(st.nodes.map((x) => x.id).sort()).toEqual(['a', 'b', 'c']);
      } finally {
        await client.close();
      }
    }
    expect((await recordings(c)).find((r) => r.recordingId === recordingId)?.state).toBe('stopped');
  });
});

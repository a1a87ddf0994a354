/**
 * Network partitions between LIVE processes (docs/REPLICATION.md §10, issue 8 item 9): links
 * are cut with TCP proxies (test/cluster/support/link-proxy.ts), nothing is killed. Every node
 * keeps running on its side of the cut; each test states the invariant it checks and checks it
 * from every node that is up, through etcd's records, the nodes' files and the client library.
 *
 * Cuts are `blackhole`s unless said otherwise: no RST, no FIN, bytes simply stop, as in a real
 * partition, so nothing learns of the cut from a closed socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, sleep, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { hasSegmentFile, kCopies, recordings, segments, sendEvents } from './support/cluster-checks.js';
import { NeverBelowK, dumpCluster, readEverywhere } from './support/partition-support.js';

let cluster: Cluster | undefined;
let sampler: NeverBelowK | undefined;

afterEach(async () => {
  await sampler?.stop();
  sampler = undefined;
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

describe('network partitions on a real cluster (links cut between live processes)', () => {
  it('a placement target cut from the recorder (blackhole) never verifies what only the recorder holds; after the verify deadline the placement moves and K copies exist elsewhere; after heal all agree and nothing is lost', async () => {
    // Invariants 1, 4, 5 and the verify deadline (§7): recording never waits for the cut
    // target; segments the target can only get from the recorder are re-placed once the
    // deadline passes; no copy is dropped below K; after healing every node serves the same events.
    cluster = await Cluster.start({ n: 3, k: 2, proxied: true, graceMs: 1000, maxLagMs: 2000 });
    const c = cluster;
    sampler = NeverBelowK.start(c, 2);
    const a = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await a.startRecording({ channel: 'cut', source: `udp://127.0.0.1:${port}` });
    let cutAt = -1;
    const sending = (async () => {
      const out: string[] = [];
      for (let round = 0; round < 16; round++) {
        if (round === 3) {
          c.links!.cutPeers('a', 'b', 'blackhole');
          // segments opened from here on: b cannot get a frame of them from a
          cutAt = Math.max(...(await segments(c)).map((s) => s.base));
        }
        out.push(...(await sendEvents(port, `r${round}`, 150)));
        await sleep(200); // continuous recording spread over the verify deadline (graceMs + maxLagMs)
      }
      return out;
    })();
    const sent = await sending;
    await until('all recorded', async () => (await a.describeRecording(recordingId)).eventCount >= sent.length, 20_000);
    await a.stopRecording({ recordingId });
    await until('stopped in etcd', async () => (await recordings(c)).find((r) => r.recordingId === recordingId)?.state === 'stopped', 20_000);
    // still cut: every sealed segment gets K verified copies, on its (possibly moved) placement
    await until(
      'K placed copies while a-b is cut',
      async () => {
        if ((await kCopies(c, 2, c.up())) !== true) return false;
        return (await segments(c)).every((s) => s.state !== 'sealed' || s.end <= s.base || s.placement.every((p) => s.replicas.some((e) => e.node === p)));
      },
      30_000,
    ).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    const during = (await segments(c)).filter((s) => s.recordingId === recordingId && s.base > cutAt && s.end > s.base);
    if (during.length <= 2) console.log('CUT AT', cutAt, JSON.stringify((await segments(c)).map((s) => [s.base, s.end, s.placement, s.replicas.map((e) => e.node)])));
    expect(during.length).toBeGreaterThan(2);
    for (const s of during) {
      // b cannot have received these from a: a copy of b exists only where c holds one too
      if (s.replicas.some((e) => e.node === 'b')) expect({ base: s.base, c: s.replicas.some((e) => e.node === 'c') }).toEqual({ base: s.base, c: true });
    }
    // at least one segment the cut target was placed on moved (the deadline re-placed it)
    expect(during.some((s) => !s.placement.includes('b'))).toBe(true);
    c.links!.healAll();
    await until(
      'converged after heal',
      async () => {
        if ((await kCopies(c, 2, c.up())) !== true) return false;
        return (await segments(c)).every((s) => s.state !== 'sealed' || s.end <= s.base || (s.placement.every((p) => s.replicas.some((e) => e.node === p)) && s.replicas.length === 2));
      },
      30_000,
    ).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    await a.close();
    const reads = await readEverywhere(c, recordingId);
    for (const [node, got] of reads) expect({ node, got: got.length, same: got.every((x, i) => x === sent[i]) }).toEqual({ node, got: sent.length, same: true });
    await sampler.check();
    // only the cut target is ever replaced: a node placed by repair gets its own verify deadline
    // (it is not replaced again before it had time to copy the segment)
    expect(sampler.flapping(1)).toEqual([]);
    // every replica entry is backed by the node's file
    for (const s of await segments(c)) for (const e of s.replicas) expect(hasSegmentFile(c.node(e.node), s.recordingId, s.base)).toBe(true);
  });
});


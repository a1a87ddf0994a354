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
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { removeTempDirs, sleep, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { hasSegmentFile, kCopies, payloadsOf, recordings, segments, sendEvents, untilKPlacedCopies } from './support/cluster-checks.js';
import { NeverBelowK, dumpCluster, etcdValue, readEverywhere } from './support/partition-support.js';

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

  it('a recorder (and coordinator) cut from etcd only, its peers still reachable: fenced by the others, it acts on nothing stale, keeps what it recorded, and the continuation brings the tail back after heal', async () => {
    // Invariants 7 (a stale node acts on nothing), 1 (a fence discards nothing: continuation),
    // 5 (no drop below K) and 4 (convergence), with the node alive and recording throughout.
    cluster = await Cluster.start({ n: 3, k: 2, proxied: true, graceMs: 1000, leaseTtlMs: 2000, maxLagMs: 2000 });
    const c = cluster;
    sampler = NeverBelowK.start(c, 2);
    const coordinator = await until('a coordinator', async () => (await etcdValue(c, 'coord')) as { node: string } | undefined, 20_000);
    const x = c.node(coordinator.node);
    const port = await freeUdpPort();
    const client = await x.client();
    const recordingId = await client.startRecording({ channel: 'etcdcut', source: `udp://127.0.0.1:${port}` });
    await client.close();
    const before = await until('the recording in etcd', async () => (await recordings(c)).find((r) => r.recordingId === recordingId), 10_000);
    let cutLogAt = 0;
    const sending = (async () => {
      const out: string[] = [];
      for (let round = 0; round < 14; round++) {
        if (round === 3) {
          cutLogAt = x.log.length;
          c.links!.cutEtcd(x.id, 'blackhole');
        }
        out.push(...(await sendEvents(port, `e${round}`, 150)));
        await sleep(250); // recording goes on while the lease expires and the others fence
      }
      return out;
    })();
    const fenced = await until('fenced by another coordinator', async () => {
      const r = (await recordings(c)).find((x) => x.recordingId === recordingId);
      return r?.state === 'stopped' ? r : undefined;
    }, 40_000).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    expect(fenced.owner).toEqual(before.owner);
    expect(fenced.stoppedBy).not.toBe(x.id);
    const sent = await sending;
    // still cut: nothing the stale node does reaches etcd, and it changes nothing from its stale view
    const cutLog = x.log.slice(cutLogAt);
    for (const stale of ['placement repaired', 'surplus copy dropped', 'local bytes deleted', 'fencing a recording', 'left the replica set']) expect({ stale, logged: cutLog.includes(stale) }).toEqual({ stale, logged: false });
    const joins = (x.log.match(/joined the cluster/g) ?? []).length;
    c.links!.healAll();
    await until('x rejoined as a new incarnation', async () => (x.log.match(/joined the cluster/g) ?? []).length > joins, 30_000);
    const cont = await until('continuation', async () => (await recordings(c)).find((r) => r.continues?.recordingId === recordingId), 30_000).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    expect(cont.continues).toEqual({ recordingId, position: fenced.stopPosition });
    expect(cont.owner.node).toBe(x.id);
    // the fenced record was not touched by the stale incarnation, before or after the heal
    const after = (await recordings(c)).find((r) => r.recordingId === recordingId)!;
    expect({ state: after.state, stop: after.stopPosition, owner: after.owner }).toEqual({ state: 'stopped', stop: fenced.stopPosition, owner: fenced.owner });
    const stopper = await x.client();
    try {
      // the fenced record's counters stop where its last progress write left them: count by reading
      // right after the heal the rejoined node may see no verified live copy of the fenced
      // segment for a moment (its own is re-verified, the view is being rebuilt): that read
      // answers REPLICA_UNAVAILABLE, which a client retries (REPLICATION.md, behaviour worth knowing)
      const head = (await until('the fenced head readable', async () => readUnlessUnavailable(() => payloadsOf(stopper, recordingId)), 20_000)).length;
      await until('the tail recorded in the continuation', async () => head + (await stopper.describeRecording(cont.recordingId)).eventCount >= sent.length, 20_000).catch(async (e) => {
        console.log('COUNTS', sent.length, head, (await stopper.describeRecording(cont.recordingId)).eventCount);
        await dumpCluster(c);
        throw e;
      });
      await stopper.stopRecording({ channel: 'etcdcut' });
    } finally {
      await stopper.close();
    }
    await until('continuation stopped in etcd', async () => (await recordings(c)).find((r) => r.recordingId === cont.recordingId)?.state === 'stopped', 20_000);
    // one continuation, not one per attempt made before the view showed the first
    expect((await recordings(c)).filter((r) => r.continues?.recordingId === recordingId).map((r) => r.recordingId)).toEqual([cont.recordingId]);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000).catch(async (e) => {
      console.log('KCOPIES', await kCopies(c, 2, c.up()));
      await dumpCluster(c);
      throw e;
    });
    const heads = await readEverywhere(c, recordingId);
    const tails = await readEverywhere(c, cont.recordingId);
    for (const n of c.up()) {
      const all = [...heads.get(n.id)!, ...tails.get(n.id)!];
      // every event once, in order: nothing lost, nothing served twice
      expect({ node: n.id, events: all.length, same: all.every((e, i) => e === sent[i]) }).toEqual({ node: n.id, events: sent.length, same: true });
    }
    await sampler.check();
  }, 90_000);

  it('a holder cut from everyone (blackhole) in the middle of a long read from another node: the read carries on from another holder; repair restores K after grace; after heal all agree', async () => {
    // Issue 8 item 7 (a read carries on from another holder), invariants 1, 4, 5.
    cluster = await Cluster.start({ n: 3, k: 2, proxied: true, graceMs: 1000, leaseTtlMs: 2000, maxLagMs: 2000 });
    const c = cluster;
    const rec = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await rec.startRecording({ channel: 'longread', source: `udp://127.0.0.1:${port}` });
    const sent = await sendEvents(port, 'L', 3000);
    await until('recorded', async () => (await rec.describeRecording(recordingId)).eventCount >= sent.length, 20_000);
    await rec.stopRecording({ recordingId });
    await rec.close();
    await untilKPlacedCopies(c, 2, 40_000);
    sampler = NeverBelowK.start(c, 2);
    await sampler.ready;
    // the reader holds some segments; of those it lacks, the victim is the first holder it would ask
    const segs = (await segments(c)).filter((s) => s.recordingId === recordingId && s.end > s.base);
    const reader = ['a', 'b', 'c'].find((n) => segs.filter((s) => !s.replicas.some((e) => e.node === n)).length >= 3) ?? 'a';
    const lacking = segs.filter((s) => !s.replicas.some((e) => e.node === reader));
    const victim = lacking[Math.floor(lacking.length / 2)]!.replicas[0]!.node;
    const client = await c.node(reader).client();
    const got: string[] = [];
    try {
      for await (const e of client.read({ recordingId })) {
        got.push(Buffer.from(e.payload).toString());
        if (got.length === 300) c.links!.isolate(victim, 'blackhole'); // mid-read, before the segments it lacks
      }
    } finally {
      await client.close();
    }
    expect({ reader, victim, events: got.length, same: got.every((x, i) => x === sent[i]) }).toEqual({ reader, victim, events: sent.length, same: true });
    // the victim is down for the others once its lease expires; past grace its placements move
    const live = c.nodes.filter((n) => n.id !== victim);
    await until('repair to K copies without the victim', async () => {
      if ((await kCopies(c, 2, live)) !== true) return false;
      return (await segments(c)).every((s) => s.state !== 'sealed' || s.end <= s.base || !s.placement.includes(victim));
    }, 40_000).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    c.links!.healAll();
    await until('converged after heal', async () => {
      if ((await kCopies(c, 2, c.up())) !== true) return false;
      return (await segments(c)).every((s) => s.state !== 'sealed' || s.end <= s.base || (s.placement.every((p) => s.replicas.some((e) => e.node === p)) && s.replicas.length === 2));
    }, 40_000).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    for (const [node, events] of await readEverywhere(c, recordingId)) expect({ node, events: events.length, same: events.every((x, i) => x === sent[i]) }).toEqual({ node, events: sent.length, same: true });
    await sampler.check();
  }, 90_000);
});

/** The read's result, or undefined while it answers REPLICA_UNAVAILABLE (any other error is retried too and named when the wait times out). */
async function readUnlessUnavailable<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof VcrError && e.code === ErrorCode.REPLICA_UNAVAILABLE) return undefined;
    throw e;
  }
}

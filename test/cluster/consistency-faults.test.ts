/**
 * Consistency across rejoin (docs/REPLICATION.md §6, §8, §10 invariants 1-4, 8), each checked
 * on a real cluster: one real etcd and three real `vcr archiver --cluster` processes on
 * loopback, killed with SIGKILL, stopped with SIGTERM, wiped and restarted; etcd itself killed
 * and restarted. Every check reads through the client library (or the `vcr` CLI) of every node
 * that is up, and looks at etcd's records and the nodes' own segment files.
 */
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { ErrorCode } from '../../src/util/errors.js';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort, type NodeProcess } from './support/cluster-harness.js';
import { kCopies, recordings, segments, sendEvents } from './support/cluster-checks.js';
import {
  BackgroundSender,
  cliJson,
  indexOf,
  indicesInFiles,
  member,
  nodeFile,
  readFrom,
  segmentFileBases,
  untilGone,
  untilReady,
  type Served,
} from './support/consistency-support.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

/** On failure, prints what the nodes logged and what etcd holds (the test's evidence). */
function dumpOnFailure(c: Cluster): void {
  onTestFailed(async () => {
    for (const n of c.nodes) console.log(`--- node ${n.id} (running ${n.running})\n${n.log.slice(-6000)}`);
    const segs = await segments(c).catch(() => []);
    console.log(JSON.stringify(segs.map((s) => [s.recordingId, s.base, s.state, s.placement, s.replicas.map((r) => `${r.node}:${r.disk.slice(0, 4)}`)])));
  });
}

/** Records `count` events on node `on` into a new recording of `channel`, stops it. */
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

async function allCopies(c: Cluster, live: NodeProcess[], timeoutMs = 30_000): Promise<void> {
  let last: string | true = 'not checked';
  await until(
    `K copies on ${live.map((n) => n.id).join(',')}`,
    async () => {
      last = await kCopies(c, 2, live);
      return last === true;
    },
    timeoutMs,
    200,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)} (last: ${String(last)})`);
  });
}

/** Every node in `nodes` serves exactly `expected` (payloads, in order) for the recording. */
async function expectServed(nodes: NodeProcess[], recordingId: number, expected: string[]): Promise<void> {
  for (const n of nodes) {
    const got = (await readFrom(n, recordingId)).map((e) => e.payload);
    const extra = got.filter((p) => !expected.includes(p)).map(indexOf);
    const missing = expected.filter((p) => !got.includes(p)).map(indexOf);
    expect({ node: n.id, count: got.length, extra: extra.slice(0, 10), missing: missing.slice(0, 10) }).toEqual({ node: n.id, count: expected.length, extra: [], missing: [] });
    expect(got).toEqual(expected);
  }
}

/** A recorder's per-channel event counter (stats need no etcd). */
async function recordedOn(n: NodeProcess, channel: string): Promise<number> {
  const client = await n.client();
  try {
    return (await client.stats()).counters.get(`channel.${channel}.events`) ?? 0;
  } finally {
    await client.close();
  }
}

describe('holds, deletions and copies stay consistent across rejoin (real cluster)', { timeout: 90_000 }, () => {
  it('invariants 2, 3, 4: a node away while a hold and a deletion commit applies them on return; no node serves a deleted event, not even after a repair copies from it', async () => {
    // graceMs 10000: the away node is back before its grace ends, so it returns with its copies
    // (a restart under a load average of 20 took 7 s: a shorter grace repaired its copies away)
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 10_000 });
    const c = cluster;
    dumpOnFailure(c);
    const { recordingId } = await recordOn(c, 'a', 'radar', 2000);
    await allCopies(c, c.up());
    const all: Served[] = await readFrom(c.node('a'), recordingId);
    expect(all.length).toBe(2000);
    const utc = (i: number): bigint => all[i]!.utcNs;
    const [from, to, holdFrom, holdTo] = [utc(600), utc(1399), utc(900), utc(1099)];
    const deleted = new Set(all.filter((e) => e.utcNs >= from && e.utcNs <= to && !(e.utcNs >= holdFrom && e.utcNs <= holdTo)).map((e) => indexOf(e.payload)));
    const held = all.filter((e) => e.utcNs >= holdFrom && e.utcNs <= holdTo).map((e) => indexOf(e.payload));
    const expected = all.filter((e) => !deleted.has(indexOf(e.payload))).map((e) => e.payload);
    expect(deleted.size).toBe(600);

    // X (away) and Y (killed later) share a segment with deleted events: after Y is gone, that
    // segment is repaired from X's copy, the one that applied the deletion late
    const segs = (await segments(c)).filter((s) => s.recordingId === recordingId && s.state === 'sealed' && s.end > s.base);
    const shared = segs.find((s) => {
      const inside = all.filter((e) => e.utcNs >= s.firstUtcNs && e.utcNs <= s.lastUtcNs).map((e) => indexOf(e.payload));
      return inside.some((i) => deleted.has(i)) && new Set(s.replicas.map((r) => r.node)).size === 2;
    });
    expect(shared).toBeDefined();
    const [X, Y] = [...new Set(shared!.replicas.map((r) => r.node))].map((id) => c.node(id)) as [NodeProcess, NodeProcess];
    const Z = c.nodes.find((n) => n !== X && n !== Y)!;

    await X.kill();
    let holdId = -1;
    const z = await Z.client();
    try {
      holdId = await z.addQuarantine({ channel: 'radar', fromUtcNs: holdFrom, toUtcNs: holdTo });
      expect(holdId).toBeGreaterThanOrEqual(0);
      await z.deleteEvents({ channel: 'radar', fromUtcNs: from, toUtcNs: to });
    } finally {
      await z.close();
    }
    // acknowledged: the nodes that are up filter at once
    await expectServed([Z, Y], recordingId, expected);

    await X.start();
    await untilReady(c, X);
    // the returning node serves no deleted event, from its first read on
    await expectServed([X, Y, Z], recordingId, expected);
    // its own copies get the deletion applied (the frames' bodies are zeroed), the held events stay
    for (const n of [X, Y, Z]) {
      await until(`deletion applied in ${n.id}'s files`, () => [...indicesInFiles(n, recordingId, 'radar')].every((i) => !deleted.has(i)), 20_000, 100);
    }
    const inFiles = [X, Y, Z].map((n) => indicesInFiles(n, recordingId, 'radar'));
    for (const i of held) expect({ i, copies: inFiles.filter((f) => f.has(i)).length }).toEqual({ i, copies: 2 });
    expect(inFiles[0]!.size).toBeGreaterThan(0);
    // `vcr query list` and `vcr quarantine list` give the same answer on every node
    const lists = [X, Y, Z].map((n) => JSON.stringify(cliJson(n, ['query', 'list'])));
    expect(new Set(lists).size).toBe(1);
    const holds = [X, Y, Z].map((n) => cliJson(n, ['quarantine', 'list']));
    expect(holds[0]!.length).toBe(1);
    expect(new Set(holds.map((h) => JSON.stringify(h))).size).toBe(1);
    // releasing the hold (on the node that was away) does not delete what it protected
    const x = await X.client();
    try {
      await x.removeQuarantine(holdId);
      expect(await x.listQuarantines()).toEqual([]);
    } finally {
      await x.close();
    }
    await expectServed([X, Y, Z], recordingId, expected);

    // Y goes for good: the shared segment is copied from X to Z, and still nothing deleted returns
    await Y.kill();
    await allCopies(c, [X, Z], 40_000); // detection (lease TTL) and graceMs pass here: the test is about repair after grace
    const repaired = (await segments(c)).find((s) => s.recordingId === recordingId && s.base === shared!.base)!;
    expect(repaired.replicas.map((r) => r.node).filter((id) => id !== Y.id).sort()).toEqual([X.id, Z.id].sort());
    expect(segmentFileBases(Z, recordingId)).toContain(shared!.base);
    expect([...indicesInFiles(Z, recordingId, 'radar')].filter((i) => deleted.has(i))).toEqual([]);
    await expectServed([X, Z], recordingId, expected);

    // Y returns: its copies are surplus now, it serves nothing deleted, every node converges
    await Y.start();
    await untilReady(c, Y);
    await expectServed([X, Y, Z], recordingId, expected);
    await allCopies(c, c.up());
    for (const n of c.up()) expect([...indicesInFiles(n, recordingId, 'radar')].filter((i) => deleted.has(i))).toEqual([]);
  });

  it('invariants 1, 4: a wiped node rejoins with a new disk id, its stale entries leave, repair restores K verified copies', async () => {
    cluster = await Cluster.start({ n: 3, k: 2 });
    const c = cluster;
    dumpOnFailure(c);
    const { recordingId, sent } = await recordOn(c, 'a', 'wiped', 2000);
    await allCopies(c, c.up());
    const segs = await segments(c);
    const heldBy = (id: string) => segs.filter((s) => s.replicas.some((r) => r.node === id)).length;
    const W = [...c.nodes].sort((x, y) => heldBy(y.id) - heldBy(x.id))[0]!;
    const oldDisk = nodeFile(W).disk;
    expect(heldBy(W.id)).toBeGreaterThan(0);

    await W.kill();
    W.wipe();
    await W.start();
    await untilReady(c, W);
    const newDisk = nodeFile(W).disk;
    expect(newDisk).not.toBe(oldDisk);
    expect((await member(c, W.id))?.disk).toBe(newDisk);
    await until('no replica entry names the old disk', async () => (await segments(c)).every((s) => s.replicas.every((r) => r.disk !== oldDisk)), 20_000, 100);
    await allCopies(c, c.up());
    // filled like a new node: it holds copies again, on its new disk
    await until(`${W.id} holds copies again`, async () => (await segments(c)).some((s) => s.replicas.some((r) => r.node === W.id && r.disk === newDisk)), 20_000, 100);
    expect(segmentFileBases(W, recordingId).length).toBeGreaterThan(0);
    await expectServed(c.up(), recordingId, sent);
    for (const n of c.up()) {
      const client = await n.client();
      try {
        await until(`${n.id} sees no under-replicated segment`, async () => (await client.clusterStatus()).underReplicatedSegments === 0, 10_000, 100);
      } finally {
        await client.close();
      }
    }
  });

  it('invariant 8: with etcd killed during recording, the recorder goes on locally; when etcd returns the records catch up and K copies are reached', async () => {
    cluster = await Cluster.start({ n: 3, k: 2 });
    const c = cluster;
    dumpOnFailure(c);
    const a = c.node('a');
    const client = await a.client();
    const port = await freeUdpPort();
    const recordingId = await client.startRecording({ channel: 'outage', source: `udp://127.0.0.1:${port}` });
    const sender = new BackgroundSender(port, 'outage', 10, 10);
    try {
      await sender.untilSent(600);
      await until('a first segment sealed', async () => (await segments(c)).some((s) => s.recordingId === recordingId && s.state === 'sealed'), 20_000, 50);
      const sealedBefore = (await segments(c)).filter((s) => s.recordingId === recordingId && s.state === 'sealed').length;

      await c.etcd.kill();
      const killedAt = Date.now();
      const atKill = sender.sent.length;
      // recording goes on locally: the recorder keeps counting events (at least 3 more segments)
      await until('the recorder counts events sent during the outage', async () => (await recordedOn(a, 'outage')) >= atKill + 900, 20_000, 100);
      // etcd stays down ~3 s in all (the test is about an outage of a few seconds: under two lease TTLs)
      await until('the outage lasted 3 s', () => Date.now() - killedAt >= 3000, 10_000, 50);
      expect(c.up().length).toBe(3);
      // a read cannot pass the read barrier (§8) without etcd: it is refused with a clear code, not hung
      await expect(readFrom(a, recordingId)).rejects.toMatchObject({ code: ErrorCode.CLUSTER_UNAVAILABLE });
      await c.etcd.run();

      await sender.untilSent(sender.sent.length + 600);
      const sent = await sender.stop();
      await until('the recorder counted every event', async () => (await recordedOn(a, 'outage')) >= sent.length, 20_000, 100);
      await client.stopRecording({ recordingId });
      await until('recording stopped in etcd', async () => (await recordings(c)).find((r) => r.recordingId === recordingId)?.state === 'stopped', 20_000, 100);
      const segs = (await segments(c)).filter((s) => s.recordingId === recordingId);
      expect(segs.every((s) => s.state === 'sealed')).toBe(true);
      expect(segs.filter((s) => s.end > s.base).length).toBeGreaterThan(sealedBefore + 3);
      // one recording: no fence, no continuation
      expect((await recordings(c)).length).toBe(1);
      await allCopies(c, c.up());
      await expectServed(c.up(), recordingId, sent);
    } finally {
      await sender.stop();
      await client.close();
    }
  });

  it('invariants 1, 4: a rolling restart (SIGTERM, restart) of all three nodes while another node records loses nothing and converges', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 3000 });
    const c = cluster;
    dumpOnFailure(c);
    const restart = async (n: NodeProcess): Promise<void> => {
      void n.stop();
      await until(`${n.id} to exit on SIGTERM`, () => !n.running, 15_000, 50);
      await untilGone(c, n.id); // a clean stop revokes the lease at once
      await n.start();
      await untilReady(c, n);
    };
    const recordWhile = async (on: NodeProcess, channel: string, restarts: NodeProcess[]): Promise<{ recordingId: number; sent: string[] }> => {
      const client = await on.client();
      try {
        const port = await freeUdpPort();
        const recordingId = await client.startRecording({ channel, source: `udp://127.0.0.1:${port}` });
        const sender = new BackgroundSender(port, channel, 10, 10);
        let sent: string[];
        try {
          await sender.untilSent(500);
          for (const n of restarts) {
            await restart(n);
            await sender.untilSent(sender.sent.length + 300);
          }
        } finally {
          sent = await sender.stop();
        }
        await until(`${on.id} counted every event of ${channel}`, async () => (await recordedOn(on, channel)) >= sent.length, 20_000, 100);
        await client.stopRecording({ recordingId });
        return { recordingId, sent };
      } finally {
        await client.close();
      }
    };
    const [a, b, cc] = [c.node('a'), c.node('b'), c.node('c')];
    const first = await recordWhile(a, 'rolling1', [b, cc]);
    const second = await recordWhile(b, 'rolling2', [a]);

    await allCopies(c, c.up(), 40_000);
    await expectServed(c.up(), first.recordingId, first.sent);
    await expectServed(c.up(), second.recordingId, second.sent);
    for (const n of c.up()) {
      const client = await n.client();
      try {
        await until(
          `${n.id}: all nodes up and ready, nothing under-replicated`,
          async () => {
            const st = await client.clusterStatus();
            return st.underReplicatedSegments === 0 && st.nodes.length === 3 && st.nodes.every((x) => x.up && x.ready);
          },
          10_000,
          100,
        );
      } finally {
        await client.close();
      }
    }
    expect((await recordings(c)).map((r) => r.state)).toEqual(['stopped', 'stopped']);
  });
});

/**
 * The replication invariants of docs/REPLICATION.md §10, each checked on a real cluster: one
 * real etcd and real `vcr archiver --cluster` processes on loopback, killed with SIGKILL,
 * paused with SIGSTOP, wiped and restarted. Every check reads through the client library of
 * the nodes that are up, and through etcd's segment records and the nodes' files.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NotificationKind, type Notification } from '../../src/client/notifications.js';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { kCopies, payloadsOf, recordings, segments, sendEvents, untilKPlacedCopies } from './support/cluster-checks.js';

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
        const got = await payloadsOf(client, recordingId);
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

  it('repairs to K verified copies after a holder is killed (-9) and stays down past grace; fewest copies first, progress in status', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000 });
    const c = cluster;
    const { recordingId, sent } = await recordOn(c, 'a', 'sonar', 2000);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    const victim = (await segments(c)).filter((s) => s.replicas.some((e) => e.node === 'b')).length >= 1 ? 'b' : 'c';
    const live = c.nodes.filter((n) => n.id !== victim);
    const watcher = await live[0]!.client();
    const notes: Notification[] = [];
    const unsubscribe = await watcher.subscribe(NotificationKind.cluster, (n) => notes.push(n));
    await c.node(victim).kill();
    let sawUnder = false;
    let sawBytes = false;
    try {
      await until(
        'repair back to K live copies',
        async () => {
          const st = await watcher.clusterStatus();
          if (st.underReplicatedSegments > 0) sawUnder = true;
          if (st.bytesToRepair > 0) sawBytes = true;
          return st.nodes.find((x) => x.id === victim)?.up === false && (await kCopies(c, 2, live)) === true && st.underReplicatedSegments === 0;
        },
        40_000,
        100,
      );
      // the same story as notifications: the node went down, repair progressed and finished
      await until('repair notifications', async () => notes.some((n) => n.type === 'repairProgress' && n.done), 5_000);
      expect(notes.some((n) => n.type === 'nodeStatusChanged' && n.nodeId === victim && !n.up)).toBe(true);
      await unsubscribe();
    } finally {
      await watcher.close();
    }
    expect(sawUnder).toBe(true);
    expect(sawBytes).toBe(true);
    for (const s of (await segments(c)).filter((x) => x.state === 'sealed' && x.end > x.base)) {
      expect(s.placement).not.toContain(victim); // placement repaired off the dead node
    }
    for (const n of live) {
      const client = await n.client();
      try {
        const got = await payloadsOf(client, recordingId);
        expect({ node: n.id, count: got.length }).toEqual({ node: n.id, count: sent.length });
        expect(got.every((x, i) => x === sent[i])).toBe(true);
      } finally {
        await client.close();
      }
    }
  });

  it('a recorder killed (-9) mid-recording is fenced: the recording stops at the longest prefix its targets hold, served the same by every node', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000 });
    const c = cluster;
    const client = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await client.startRecording({ channel: 'live', source: `udp://127.0.0.1:${port}` });
    const sent = await sendEvents(port, 'live', 1500);
    await until('recorded', async () => (await client.describeRecording(recordingId)).eventCount >= 1500, 20_000);
    await client.close();
    // the mirror streams are live: wait until the open segment's targets have acked some of it
    await until('sealed segments on K nodes', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    await c.node('a').kill();
    await until('fenced', async () => (await recordings(c)).find((r) => r.recordingId === recordingId)?.state === 'stopped', 40_000, 100).catch(async (e) => {
      await dump(c);
      throw e;
    });
    const rec = (await recordings(c)).find((r) => r.recordingId === recordingId)!;
    expect(rec.stopPosition).toBeGreaterThan(0);
    await until('K copies after the fence', async () => (await kCopies(c, 2, c.up())) === true, 40_000);
    const reads: string[][] = [];
    for (const n of c.up()) {
      const cl = await n.client();
      try {
        reads.push(await payloadsOf(cl, recordingId));
      } finally {
        await cl.close();
      }
    }
    expect(reads[0]!.length).toBeGreaterThan(0);
    expect(reads[1]).toEqual(reads[0]);
    // a prefix of what was sent, in order, nothing invented
    expect(reads[0]!.every((x, i) => x === sent[i])).toBe(true);
    // no segment record is left open, and every sealed one ends at or before the stop
    for (const s of (await segments(c)).filter((x) => x.recordingId === recordingId)) {
      expect(s.state).toBe('sealed');
      expect(s.end).toBeLessThanOrEqual(rec.stopPosition);
    }
    // the recorder comes back: what it held past the fenced end is not discarded but moves into a
    // continuation recording, so the fenced recording and its continuation hold every event sent
    await c.node('a').start();
    const cont = await until(
      'the recorder settled its tail',
      async () => {
        const all = await recordings(c);
        const cr = all.find((r) => r.continues?.recordingId === recordingId);
        if (cr) return cr.state === 'stopped' ? cr : undefined;
        return reads[0]!.length === sent.length ? 'none' : undefined;
      },
      30_000,
    );
    const ca = await c.node('a').client();
    try {
      const head = await payloadsOf(ca, recordingId);
      expect(head).toEqual(reads[0]);
      const tail = cont === 'none' ? [] : await payloadsOf(ca, cont.recordingId);
      expect([...head, ...tail]).toEqual(sent);
      if (cont !== 'none') expect(cont.continues).toEqual({ recordingId, position: rec.stopPosition });
    } finally {
      await ca.close();
    }
  });

  it('a recorder paused (SIGSTOP) past its lease acts on nothing stale when it resumes: its recording stays fenced, what it held moves to a continuation, nothing is lost', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000, leaseTtlMs: 2000 });
    const c = cluster;
    const a = c.node('a');
    const port = await freeUdpPort();
    let client = await a.client();
    const recordingId = await client.startRecording({ channel: 'paused', source: `udp://127.0.0.1:${port}` });
    const first = await sendEvents(port, 'p1', 500);
    await until('recorded', async () => (await client.describeRecording(recordingId)).eventCount >= 500, 20_000);
    await client.close();
    const before = (await recordings(c)).find((r) => r.recordingId === recordingId)!;
    a.pause();
    // sent while the recorder is stopped: the kernel keeps them in its socket buffer
    const during = await sendEvents(port, 'p2', 300);
    await until('fenced while paused', async () => (await recordings(c)).find((r) => r.recordingId === recordingId)?.state === 'stopped', 40_000, 100).catch(async (e) => {
      await dump(c);
      throw e;
    });
    const fenced = (await recordings(c)).find((r) => r.recordingId === recordingId)!;
    a.resume();
    // a new incarnation of a, ready again
    await until('a rejoined', async () => {
      const cl = await c.node('b').client();
      try {
        const st = await cl.clusterStatus();
        return st.nodes.find((n) => n.id === 'a')?.ready === true;
      } finally {
        await cl.close();
      }
    }, 30_000);
    const cont = await until('continuation', async () => (await recordings(c)).find((r) => r.continues?.recordingId === recordingId), 20_000).catch(async (e) => {
      await dump(c);
      throw e;
    });
    expect(cont.continues).toEqual({ recordingId, position: fenced.stopPosition });
    expect(cont.owner.node).toBe('a');
    expect(cont.owner.lease).not.toBe(before.owner.lease);
    // the fenced record was not touched by the stale incarnation
    const after = (await recordings(c)).find((r) => r.recordingId === recordingId)!;
    expect({ state: after.state, stop: after.stopPosition, owner: after.owner }).toEqual({ state: 'stopped', stop: fenced.stopPosition, owner: fenced.owner });
    // recording goes on in the continuation
    const later = await sendEvents(port, 'p3', 200);
    client = await a.client();
    try {
      await until('continuation recorded', async () => (await client.describeRecording(cont.recordingId)).stopPosition > 0 && (await client.describeRecording(recordingId)).eventCount + (await client.describeRecording(cont.recordingId)).eventCount >= 1000, 20_000).catch(async (e) => {
        console.log('DESCRIBE', JSON.stringify({ r: (await client.describeRecording(recordingId)).eventCount, c: (await client.describeRecording(cont.recordingId)).eventCount, cs: (await client.describeRecording(cont.recordingId)).stopPosition }));
        await dump(c);
        throw e;
      });
      await client.stopRecording({ channel: 'paused' });
    } finally {
      await client.close();
    }
    // the stop reaches etcd asynchronously (the reconciler publishes it): other nodes read up to the published end
    await until('continuation stopped in etcd', async () => (await recordings(c)).find((r) => r.recordingId === cont.recordingId)?.state === 'stopped', 20_000);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    for (const n of c.up()) {
      const cl = await n.client();
      try {
        const head = await payloadsOf(cl, recordingId).catch(async (e) => {
          console.log('READ FAIL head on', n.id, JSON.stringify(readdirSync(n.dir)), JSON.stringify(readdirSync(join(n.dir, 'cache')).map((f) => [f, statSync(join(n.dir, 'cache', f)).size])));
          await dump(c);
          throw e;
        });
        const tail = await payloadsOf(cl, cont.recordingId).catch(async (e) => {
          console.log('READ FAIL tail on', n.id);
          await dump(c);
          throw e;
        });
        if ([...head, ...tail].length !== first.length + during.length + later.length) {
          console.log('COUNTS', n.id, head.length, tail.length);
          await dump(c);
        }
        expect({ node: n.id, events: [...head, ...tail].length }).toEqual({ node: n.id, events: first.length + during.length + later.length });
        expect([...head, ...tail]).toEqual([...first, ...during, ...later]);
      } finally {
        await cl.close();
      }
    }
  });

  it('a target killed (-9) during continuous recording: recording never stops, nothing is lost, K copies are restored with the node gone', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000 });
    const c = cluster;
    const client = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await client.startRecording({ channel: 'steady', source: `udp://127.0.0.1:${port}` });
    const sending = (async () => {
      const out: string[] = [];
      for (let round = 0; round < 10; round++) out.push(...(await sendEvents(port, `s${round}`, 200)));
      return out;
    })();
    await until('recording under way', async () => (await client.describeRecording(recordingId)).eventCount >= 400, 20_000);
    const victim = (await segments(c)).some((s) => s.placement.includes('b')) ? 'b' : 'c';
    await c.node(victim).kill();
    const sent = await sending;
    await until('all recorded', async () => (await client.describeRecording(recordingId)).eventCount >= sent.length, 20_000);
    await client.stopRecording({ recordingId });
    await client.close();
    const live = c.up();
    await until('stopped in etcd', async () => (await recordings(c)).find((r) => r.recordingId === recordingId)?.state === 'stopped', 20_000);
    await until('K copies without the victim', async () => (await kCopies(c, 2, live)) === true, 40_000);
    for (const n of live) {
      const cl = await n.client();
      try {
        const got = await payloadsOf(cl, recordingId);
        expect({ node: n.id, count: got.length }).toEqual({ node: n.id, count: sent.length });
        expect(got.every((x, i) => x === sent[i])).toBe(true);
      } finally {
        await cl.close();
      }
    }
  });

  it('flipped bytes in one replica are caught by the CRC of a read, never served, and the copy is rebuilt from a verified one', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000 });
    const c = cluster;
    const { recordingId, sent } = await recordOn(c, 'a', 'bits', 1500);
    await untilKPlacedCopies(c, 2, 30_000);
    const seg = (await segments(c)).find((s) => s.recordingId === recordingId && s.state === 'sealed' && s.base === 0)!;
    const holder = c.node(seg.replicas[0]!.node);
    const file = join(holder.dir, `${recordingId}-0.rec`);
    const fd = openSync(file, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 1000);
      b[0] = b[0]! ^ 0xff; // one payload byte of an early frame
      writeSync(fd, b, 0, 1, 1000);
    } finally {
      closeSync(fd);
    }
    // a read on the damaged holder: its CRC check refuses the local bytes and the read is served right
    const cl = await holder.client();
    try {
      const got = await payloadsOf(cl, recordingId);
      expect(got).toEqual(sent);
    } finally {
      await cl.close();
    }
    // the damaged copy left the replica set and came back verified (rebuilt from the other holder)
    await until('copy rebuilt', async () => {
      if ((await kCopies(c, 2, c.up())) !== true) return false;
      const cur = (await segments(c)).find((s) => s.recordingId === recordingId && s.base === 0)!;
      return cur.replicas.some((e) => e.node === holder.id) || cur.placement.every((p) => cur.replicas.some((e) => e.node === p));
    }, 30_000);
    const b = readFileSync(file);
    expect(b.length).toBeGreaterThan(1000);
    for (const n of c.up()) {
      const r = await n.client();
      try {
        expect(await payloadsOf(r, recordingId)).toEqual(sent);
      } finally {
        await r.close();
      }
    }
  });
});

async function dump(c: Cluster): Promise<void> {
  const recs = (await recordings(c)).map((r) => [r.recordingId, r.state, r.owner, r.stopPosition, r.continues]);
  const segs = (await segments(c)).map((x) => [x.recordingId, x.base, x.state, x.end, x.placement, x.replicas.map((r) => r.node)]);
  console.log('RECORDINGS', JSON.stringify(recs), '\nSEGMENTS', JSON.stringify(segs));
  for (const n of c.nodes) console.log('LOG', n.id, n.log.split('\n').filter((l) => !l.includes('control session')).slice(-30).join('\n'));
}

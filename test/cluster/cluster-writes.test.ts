import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, type ClusterRecording } from '../../src/cluster/cluster-keys.js';
import { ClusterWrites } from '../../src/cluster/cluster-writes.js';
import { EtcdStore } from '../../src/cluster/etcd-store.js';
import { Membership } from '../../src/cluster/membership.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { removeTempDirs, tempDir } from '../helpers/wait.js';
import { EtcdProcess } from './support/etcd-process.js';

let etcd: EtcdProcess;
beforeAll(async () => {
  etcd = await EtcdProcess.start();
});
afterAll(async () => {
  await etcd.kill();
  removeTempDirs();
});

const base: Omit<ClusterRecording, 'recordingId'> = {
  channel: 'c',
  aliases: [],
  source: 'udp://127.0.0.1:9',
  segmentLength: 1 << 20,
  state: 'recording',
  owner: { node: 'a', lease: '' },
  startPosition: 0,
  stopPosition: 0,
  startUtcNs: 1n,
  stopUtcNs: 1n,
  startMonoNs: 1n,
  stopMonoNs: 1n,
  eventCount: 0,
};

async function node(store: EtcdStore, cluster: string, id: string): Promise<{ m: Membership; w: ClusterWrites }> {
  const m = new Membership(store, cluster, { id, control: '127.0.0.1:1', replication: '127.0.0.1:2' }, tempDir(), 2000, Date.now);
  await m.register();
  return { m, w: new ClusterWrites(store, m) };
}

describe('ClusterWrites (real etcd)', () => {
  it('allocates dense recording ids under concurrency, and a retried create finds its own record (invariant 9)', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/w1/');
    const a = await node(store, 'w1', 'a');
    const b = await node(store, 'w1', 'b');
    try {
      const made = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).w.createRecording(base, `tok-${i}`)));
      expect(made.map((r) => r.recordingId).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      const last = made.find((r) => r.recordingId === 19)!;
      const again = await a.w.createRecording(base, last.token!);
      expect(again.recordingId).toBe(19);
      expect((await store.get(KEY.recordingIds))?.value).toBe('20');
    } finally {
      await a.m.close();
      await b.m.close();
      store.close();
    }
  });

  it('refuses every write of a node whose lease is gone with FENCED', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/w2/');
    const a = await node(store, 'w2', 'a');
    try {
      await store.revokeLease(a.m.lease);
      const err = await a.w.addHold({ fromUtcNs: 0n, toUtcNs: 10n }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VcrError);
      expect((err as VcrError).code).toBe(ErrorCode.FENCED);
      expect(await store.get(KEY.hold(0))).toBeUndefined();
    } finally {
      await a.m.close();
      store.close();
    }
  });

  it('commits a deletion with a copy of the holds that cover it at that moment (invariant 3)', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/w3/');
    const a = await node(store, 'w3', 'a');
    try {
      const h1 = await a.w.addHold({ channel: 'x', fromUtcNs: 10n, toUtcNs: 20n });
      await a.w.addHold({ channel: 'y', fromUtcNs: 10n, toUtcNs: 20n });
      const d = await a.w.commitDeletion({ channel: 'x', recordings: [0], fromUtcNs: 0n, toUtcNs: 100n }, (h) => h.channel === undefined || h.channel === 'x');
      expect(d.holds).toEqual([{ channel: 'x', fromUtcNs: 10n, toUtcNs: 20n }]);
      expect(await a.w.removeHold(h1)).toBe(true);
      expect(await a.w.removeHold(h1)).toBe(false);
      // the committed deletion still carries the hold that protected its events
      const stored = await store.get(KEY.deletion(d.deletionId));
      expect(stored?.value).toContain('"fromUtcNs":"10"');
    } finally {
      await a.m.close();
      store.close();
    }
  });

  it('compares counted holders: a change to a holder makes a segment update fail (invariant 5)', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/w4/');
    const a = await node(store, 'w4', 'a');
    const b = await node(store, 'w4', 'b');
    try {
      const seg = { recordingId: 0, base: 0, state: 'sealed' as const, placement: ['b'], replicas: [{ node: 'a', disk: a.m.disk }, { node: 'b', disk: b.m.disk }], end: 8, frames: 1, digest: 'x', firstUtcNs: 1n, lastUtcNs: 1n };
      expect(await a.w.openSegment(seg)).toBe(true);
      const bKv = await store.get(KEY.member('b'));
      await b.m.setReady(true); // b's member key changes after it was counted
      const dropped = await a.w.updateSegment(0, 0, (s) => s && { ...s, replicas: s.replicas.filter((r) => r.node !== 'a') }, [
        { key: KEY.member('b'), target: 'Mod', op: '==', value: bKv!.modRevision },
      ]);
      expect(dropped).toBeUndefined();
      const kv = await store.get(KEY.segment(0, 0));
      expect(kv?.value).toContain('"node":"a"');
    } finally {
      await a.m.close();
      await b.m.close();
      store.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStore, type WatchEvent } from '../../src/cluster/etcd-store.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { removeTempDirs, until } from '../helpers/wait.js';
import { EtcdProcess } from './support/etcd-process.js';

let etcd: EtcdProcess;

beforeAll(async () => {
  etcd = await EtcdProcess.start();
});

afterAll(async () => {
  await etcd.kill();
  removeTempDirs();
});

describe('EtcdStore against a real etcd', () => {
  it('lists, watches and runs fenced transactions under its namespace', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/t1/');
    const other = new EtcdStore([etcd.endpoint], '/vcr/t2/');
    try {
      const put = await store.txn([{ key: 'a', target: 'Create', op: '==', value: 0 }], [{ put: 'a', value: '1' }]);
      expect(put.succeeded).toBe(true);
      const again = await store.txn([{ key: 'a', target: 'Create', op: '==', value: 0 }], [{ put: 'a', value: '2' }]);
      expect(again.succeeded).toBe(false);
      await other.txn([], [{ put: 'a', value: 'other' }]);
      const listed = await store.listAll();
      expect(listed.kvs.map((k) => [k.key, k.value])).toEqual([['a', '1']]);

      const seen: WatchEvent[] = [];
      const w = await store.watch(listed.revision + 1, (ev) => seen.push(...ev), () => undefined);
      await store.txn([], [{ put: 'b', value: 'x' }, { del: 'a' }]);
      await until('the watch to deliver both events', () => seen.length >= 2);
      expect(seen.map((e) => [e.type, e.kv.key])).toEqual([
        ['put', 'b'],
        ['delete', 'a'],
      ]);
      await w.close();
      expect(await store.currentRevision()).toBeGreaterThan(listed.revision);
    } finally {
      store.close();
      other.close();
    }
  });

  it('fences a write on a lease: a revoked lease makes the transaction fail', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/t3/');
    try {
      const lease = store.lease(2000);
      const id = await lease.grant();
      const reg = await store.txn([{ key: 'm/a', target: 'Create', op: '==', value: 0 }], [{ put: 'm/a', value: 'me', lease: id }]);
      expect(reg.succeeded).toBe(true);
      const fenced = (leaseId: string) => store.txn([{ key: 'm/a', target: 'Lease', op: '==', value: leaseId }], [{ put: 'x', value: leaseId }]);
      expect((await fenced(id)).succeeded).toBe(true);
      await store.revokeLease(id);
      lease.release();
      expect((await fenced(id)).succeeded).toBe(false);
      expect(await store.get('m/a')).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it('fails with CLUSTER_UNAVAILABLE, not a hang, when etcd does not answer', async () => {
    const store = new EtcdStore(['127.0.0.1:1'], '/vcr/t4/');
    try {
      const started = Date.now();
      const err = await store.listAll().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VcrError);
      expect((err as VcrError).code).toBe(ErrorCode.CLUSTER_UNAVAILABLE);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      store.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterView } from '../../src/cluster/cluster-view.js';
import { EtcdStore } from '../../src/cluster/etcd-store.js';
import { Membership } from '../../src/cluster/membership.js';
import { ViewSync } from '../../src/cluster/view-sync.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { removeTempDirs, tempDir, until } from '../helpers/wait.js';
import { EtcdProcess } from './support/etcd-process.js';

let etcd: EtcdProcess;
const node = { id: 'a', control: '127.0.0.1:1', replication: '127.0.0.1:2' };

beforeAll(async () => {
  etcd = await EtcdProcess.start();
});

afterAll(async () => {
  await etcd.kill();
  removeTempDirs();
});

async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof VcrError ? e.code : -1),
  );
}

describe('Membership (real etcd)', () => {
  it('refuses a second live process claiming the same node id with NODE_ID_IN_USE', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/m1/');
    const first = new Membership(store, 'm1', node, tempDir(), 1000, Date.now);
    const second = new Membership(store, 'm1', node, tempDir(), 1000, Date.now);
    try {
      await first.register();
      expect(await codeOf(second.register())).toBe(ErrorCode.NODE_ID_IN_USE);
      expect(first.trusted()).toBe(true);
    } finally {
      await first.close();
      await second.close();
      store.close();
    }
  });

  it('takes over its own previous incarnation from the same directory at once', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/m2/');
    const dir = tempDir();
    const old = new Membership(store, 'm2', node, dir, 10_000, Date.now);
    await old.register();
    const oldLease = old.lease;
    // the old process "dies" without revoking: its key would live for 10 s
    const restarted = new Membership(store, 'm2', node, dir, 10_000, Date.now);
    const started = Date.now();
    try {
      await restarted.register();
      expect(Date.now() - started).toBeLessThan(3000);
      expect(restarted.lease).not.toBe(oldLease);
      const kv = await store.get('m/a');
      expect(kv?.lease).toBe(restarted.lease);
    } finally {
      await restarted.close();
      store.close();
    }
  });

  it('ties a directory to one node id', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/m3/');
    const dir = tempDir();
    const a = new Membership(store, 'm3', node, dir, 1000, Date.now);
    await a.register();
    await a.close();
    const b = new Membership(store, 'm3', { ...node, id: 'b' }, dir, 1000, Date.now);
    try {
      expect(await codeOf(b.register())).toBe(ErrorCode.INVALID_CLUSTER_CONFIG);
    } finally {
      store.close();
    }
  });

  it('reports a revoked lease as lost, and the view sees members come and go', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/m4/');
    const m = new Membership(store, 'm4', node, tempDir(), 1000, Date.now);
    const view = new ClusterView();
    const sync = new ViewSync(store, view, 'observer', Date.now);
    const timer = setInterval(() => sync.doWork(), 5);
    let lost = '';
    m.onLost = (why) => (lost = why);
    try {
      await m.register();
      await until('the view to list the member', () => view.isUp('a'));
      expect(await m.setReady(true)).toBe(true);
      await sync.barrier();
      expect(view.isReady('a')).toBe(true);
      await store.revokeLease(m.lease);
      await until('the view to drop the member', () => !view.isUp('a'));
      expect(await m.setReady(false)).toBe(false);
      expect(lost).not.toBe('');
      expect(m.trusted()).toBe(false);
    } finally {
      clearInterval(timer);
      await sync.close();
      await m.close();
      store.close();
    }
  });
});

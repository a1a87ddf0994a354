/**
 * The repair coordinator's verify deadline on a real etcd (docs/REPLICATION.md §7): a node a
 * repair adds to the placement of a segment sealed long ago gets its whole deadline to fetch
 * and join, counted from when it was placed; it is not replaced by the next pass. Nodes b and
 * c are real memberships; a is registered, then leaves and stays down past grace. The
 * coordinator runs on b with a clock the test steps (etcd measures the grace itself).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, encodeValue, type ClusterRecording, type ClusterSegment } from '../../../src/cluster/cluster-keys.js';
import { ClusterView } from '../../../src/cluster/cluster-view.js';
import { ClusterWrites } from '../../../src/cluster/cluster-writes.js';
import { EtcdStore } from '../../../src/cluster/etcd-store.js';
import { Membership } from '../../../src/cluster/membership.js';
import { RepairCoordinator } from '../../../src/cluster/repair-coordinator.js';
import { ViewSync } from '../../../src/cluster/view-sync.js';
import { ErrorCode, VcrError } from '../../../src/util/errors.js';
import { removeTempDirs, tempDir, until } from '../../helpers/wait.js';
import { EtcdProcess } from '../support/etcd-process.js';

let etcd: EtcdProcess;
beforeAll(async () => {
  etcd = await EtcdProcess.start();
});
afterAll(async () => {
  await etcd.kill();
  removeTempDirs();
});

const quiet = { info: () => undefined, warn: () => undefined };
const SEG = 1 << 20;

const recording: ClusterRecording = {
  recordingId: 0,
  channel: 'c',
  aliases: [],
  source: 'udp://127.0.0.1:9',
  segmentLength: SEG,
  state: 'stopped',
  owner: { node: 'a', lease: '' },
  startPosition: 0,
  stopPosition: 1000,
  startUtcNs: 1n,
  stopUtcNs: 2n,
  startMonoNs: 1n,
  stopMonoNs: 2n,
  eventCount: 10,
};

describe('RepairCoordinator (real etcd)', () => {
  it('gives a node placed by a repair its whole verify deadline from the placement, not from the seal (no placement flapping)', async () => {
    const store = new EtcdStore([etcd.endpoint], '/vcr/rc1/');
    const member = async (id: string): Promise<Membership> => {
      const m = new Membership(store, 'rc1', { id, control: '127.0.0.1:1', replication: '127.0.0.1:2' }, tempDir(), 2000, Date.now);
      await m.register();
      await m.setReady(true);
      return m;
    };
    const [a, b, c] = [await member('a'), await member('b'), await member('c')];
    const view = new ClusterView();
    const sync = new ViewSync(store, view, 'b', Date.now);
    let offsetMs = 0;
    const verifyDeadlineMs = 2000;
    const coordinator = new RepairCoordinator(
      store,
      view,
      new ClusterWrites(store, b),
      b,
      ['a', 'b', 'c'],
      { k: 2, graceMs: 1000, verifyDeadlineMs },
      { query: () => Promise.reject(new VcrError(ErrorCode.NOT_READY, 'no fences in this test')) },
      () => Date.now() + offsetMs,
      quiet,
    );
    const segment = (): ClusterSegment | undefined => view.segment(0, 0)?.value;
    /** steps the view until it holds everything etcd committed so far */
    const catchUp = async (): Promise<void> => {
      let synced = false;
      void sync.barrier().then(() => (synced = true));
      await until('the view caught up', () => sync.doWork() >= 0 && synced, 10_000, 5);
    };
    /** one whole coordinator pass (the clock stepped by `stepMs`, past the pass interval), then the view caught up */
    const pass = async (stepMs: number): Promise<void> => {
      const before = coordinator.passesDone;
      offsetMs += stepMs;
      await until('a coordinator pass', () => {
        sync.doWork();
        coordinator.doWork();
        return coordinator.passesDone > before;
      }, 10_000, 5);
      await catchUp();
    };
    try {
      await store.txn([], [
        { put: KEY.recording(0), value: encodeValue(recording) },
        {
          put: KEY.segment(0, 0),
          value: encodeValue({
            recordingId: 0,
            base: 0,
            state: 'sealed',
            placement: ['a', 'b'],
            replicas: [{ node: 'a', disk: a.disk }, { node: 'b', disk: b.disk }],
            end: 1000,
            frames: 10,
            digest: 'd',
            firstUtcNs: 1n,
            lastUtcNs: 2n,
          } satisfies ClusterSegment),
        },
      ]);
      await until('b coordinates and sees the sealed segment', async () => {
        sync.doWork();
        coordinator.doWork();
        return coordinator.leading && segment() !== undefined;
      }, 10_000, 5);
      await pass(300); // the coordinator has seen the segment sealed, a and b placed
      offsetMs += 10 * verifyDeadlineMs; // long after the seal

      await a.close(); // a's member key goes; the coordinator starts its grace (measured by etcd)
      for (let i = 0; i < 200 && !segment()!.placement.includes('c'); i++) await pass(10);
      expect(segment()!.placement.sort()).toEqual(['b', 'c']);
      expect(coordinator.placementChanges).toBe(1);

      // c fetches and joins within its deadline: passes meanwhile leave the placement alone
      for (let i = 0; i < 5; i++) {
        await pass(300);
        expect(segment()!.placement.sort()).toEqual(['b', 'c']);
      }
      expect(coordinator.placementChanges).toBe(1);

      // past its deadline without a copy, c is replaced (a gray failure)
      await pass(verifyDeadlineMs);
      expect(coordinator.placementChanges).toBe(2);
    } finally {
      coordinator.close();
      await sync.close();
      for (const m of [b, c]) await m.close();
      store.close();
    }
  });
});

/**
 * The repair coordinator's verify deadline on a real etcd (docs/REPLICATION.md §7): a node a
 * repair adds to the placement of a segment sealed long ago gets its whole deadline to fetch
 * and join, counted from when it was placed, and a node that keeps joining copies is not
 * replaced on the segments still queued behind them. Nodes a, b and c are real memberships;
 * a leaves and stays down past grace (etcd measures the grace itself). The coordinator runs
 * on b with a clock the test steps.
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

interface Fixture {
  coordinator: RepairCoordinator;
  segment(base: number): ClusterSegment;
  /** one whole coordinator pass, the clock stepped by `stepMs` first; the view caught up after it */
  pass(stepMs: number): Promise<void>;
  /** node c joins the replica set of `base` (what its replica manager does once its copy verifies) */
  cJoins(base: number): Promise<void>;
  /** node c restarts: its incarnation ends, a new one registers (same directory and disk), not ready yet */
  restartC(): Promise<void>;
  close(): Promise<void>;
}

const VERIFY_DEADLINE_MS = 2000;

/** Sealed segments at `bases` placed on a and b, seen by the coordinator, then (long after) a leaves and the repair places c. */
async function repairedOnto(prefix: string, bases: number[]): Promise<Fixture> {
  const store = new EtcdStore([etcd.endpoint], `/vcr/${prefix}/`);
  const dirs = new Map<string, string>();
  const member = async (id: string, ready = true): Promise<Membership> => {
    if (!dirs.has(id)) dirs.set(id, tempDir());
    const m = new Membership(store, prefix, { id, control: '127.0.0.1:1', replication: '127.0.0.1:2' }, dirs.get(id)!, 2000, Date.now);
    await m.register();
    if (ready) await m.setReady(true);
    return m;
  };
  const [a, b] = [await member('a'), await member('b')];
  let c = await member('c');
  const view = new ClusterView();
  const sync = new ViewSync(store, view, 'b', Date.now);
  let offsetMs = 0;
  const coordinator = new RepairCoordinator(
    store,
    view,
    new ClusterWrites(store, b),
    b,
    ['a', 'b', 'c'],
    { k: 2, graceMs: 1000, verifyDeadlineMs: VERIFY_DEADLINE_MS },
    { query: () => Promise.reject(new VcrError(ErrorCode.NOT_READY, 'no fences in this test')) },
    () => Date.now() + offsetMs,
    quiet,
  );
  const catchUp = async (): Promise<void> => {
    let synced = false;
    void sync.barrier().then(() => (synced = true));
    await until('the view caught up', () => sync.doWork() >= 0 && synced, 10_000, 5);
  };
  const f: Fixture = {
    coordinator,
    segment: (base) => view.segment(0, base)!.value,
    pass: async (stepMs) => {
      const before = coordinator.passesDone;
      offsetMs += stepMs;
      await until('a coordinator pass', () => {
        sync.doWork();
        coordinator.doWork();
        return coordinator.passesDone > before;
      }, 10_000, 5);
      await catchUp();
    },
    cJoins: async (base) => {
      const disk = c.disk;
      await new ClusterWrites(store, c).updateSegment(0, base, (cur) => (cur ? { ...cur, replicas: [...cur.replicas, { node: 'c', disk }] } : undefined));
      await catchUp();
    },
    restartC: async () => {
      await c.close();
      c = await member('c', false);
      await catchUp();
    },
    close: async () => {
      coordinator.close();
      await sync.close();
      for (const m of [b, c]) await m.close();
      store.close();
    },
  };
  try {
    await store.txn(
      [],
      [
        { put: KEY.recording(0), value: encodeValue(recording) },
        ...bases.map((base) => ({
          put: KEY.segment(0, base),
          value: encodeValue({
            recordingId: 0,
            base,
            state: 'sealed',
            placement: ['a', 'b'],
            replicas: [
              { node: 'a', disk: a.disk },
              { node: 'b', disk: b.disk },
            ],
            end: base + 1000,
            frames: 10,
            digest: 'd',
            firstUtcNs: 1n,
            lastUtcNs: 2n,
          } satisfies ClusterSegment),
        })),
      ],
    );
    await until('b coordinates and sees the sealed segments', () => {
      sync.doWork();
      coordinator.doWork();
      return coordinator.leading && bases.every((base) => view.segment(0, base) !== undefined);
    }, 10_000, 5);
    await f.pass(300); // the coordinator has seen the segments sealed, a and b placed
    offsetMs += 10 * VERIFY_DEADLINE_MS; // long after the seal
    await a.close(); // a's member key goes; the coordinator starts its grace
    for (let i = 0; i < 300 && !bases.every((base) => f.segment(base).placement.includes('c')); i++) await f.pass(10);
    for (const base of bases) expect(f.segment(base).placement.sort()).toEqual(['b', 'c']);
    expect(coordinator.placementChanges).toBe(bases.length);
    return f;
  } catch (err) {
    await f.close();
    throw err;
  }
}

describe('RepairCoordinator verify deadlines (real etcd)', () => {
  it('gives a node placed by a repair its whole deadline from the placement, not from the seal (no placement flapping)', async () => {
    const f = await repairedOnto('rc1', [0]);
    try {
      // c fetches within its deadline: passes meanwhile leave the placement alone
      for (let i = 0; i < 5; i++) {
        await f.pass(300);
        expect(f.segment(0).placement.sort()).toEqual(['b', 'c']);
      }
      expect(f.coordinator.placementChanges).toBe(1);
      // past its deadline without a copy, c is replaced (a gray failure)
      await f.pass(VERIFY_DEADLINE_MS);
      expect(f.coordinator.placementChanges).toBe(2);
      expect(f.segment(0).placement).not.toContain('c');
    } finally {
      await f.close();
    }
  });

  it('keeps a node that joins copies on the segments queued behind them; one that joins nothing for a deadline is replaced', async () => {
    const f = await repairedOnto('rc2', [0, SEG, 2 * SEG]);
    try {
      await f.pass(VERIFY_DEADLINE_MS - 500);
      await f.cJoins(0); // progress: c copied one of its three
      await f.pass(10);
      await f.pass(1000); // past the deadline counted from the placement, within the one from the join
      expect(f.coordinator.placementChanges).toBe(3);
      for (const base of [SEG, 2 * SEG]) expect(f.segment(base).placement.sort()).toEqual(['b', 'c']);
      await f.cJoins(SEG);
      await f.pass(10); // the pass that sees the join
      await f.pass(VERIFY_DEADLINE_MS - 500);
      expect(f.coordinator.placementChanges).toBe(3);
      await f.pass(1000); // nothing joined for a whole deadline: the last one is replaced
      expect(f.coordinator.placementChanges).toBe(4);
      expect(f.segment(2 * SEG).placement).not.toContain('c');
      expect(f.segment(0).placement.sort()).toEqual(['b', 'c']);
    } finally {
      await f.close();
    }
  });

  it('does not replace a node back from a restart while it verifies its copies (up, not ready yet)', async () => {
    const f = await repairedOnto('rc3', [0]);
    try {
      await f.cJoins(0);
      await f.pass(10);
      await f.pass(3 * VERIFY_DEADLINE_MS); // long after c's last progress; its copy counts, nothing to replace
      expect(f.coordinator.placementChanges).toBe(1);
      await f.restartC(); // back within grace, a new incarnation, not ready: its copy does not count yet
      await f.pass(10);
      await f.pass(VERIFY_DEADLINE_MS - 500);
      expect(f.segment(0).placement.sort()).toEqual(['b', 'c']);
      expect(f.coordinator.placementChanges).toBe(1);
    } finally {
      await f.close();
    }
  });
});

/**
 * A committed deletion covers the recordings it named at commit, on every node and however late
 * a node applies it (docs/REPLICATION.md §8), on a real cluster: one real etcd and two real
 * `vcr archiver --cluster` processes (K = 2, so the node that was away must end up with a copy
 * of everything).
 *
 * A recording made after the commit has events inside the interval only when the deciding
 * node's clock ran ahead of the recorder's. Clocks of processes on one machine cannot be set
 * apart, so the test commits the deletion as such a node would: it writes the `d/<id>` record
 * to etcd itself, with an end an hour ahead and the recordings of the channel at that moment.
 */
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { encodeValue, KEY, type ClusterDeletion } from '../../src/cluster/cluster-keys.js';
import { readHolds } from '../../src/storage/holds-file.js';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster } from './support/cluster-harness.js';
import { kCopies, PREFIX, recordOn } from './support/cluster-checks.js';
import { indicesInFiles, readFrom, untilReady } from './support/consistency-support.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

describe('a deletion applied late covers the recordings it named at commit (real cluster)', () => {
  it('a node away while a deletion commits applies it on return to the named recording only: a later recording of the same channel with events inside the interval keeps them', async () => {
    // graceMs 30 s: the away node stays in the placement, so it fetches every copy on return
    cluster = await Cluster.start({ n: 2, k: 2, graceMs: 30_000 });
    const c = cluster;
    onTestFailed(() => {
      for (const n of c.nodes) console.log(`--- node ${n.id} (running ${n.running})\n${n.log.slice(-6000)}`);
    });
    const [a, b] = [c.node('a'), c.node('b')];
    const named = await recordOn(c, 'a', 'chan', 300);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    expect(indicesInFiles(b, named.recordingId, 'chan').size).toBe(300);

    await b.stop();
    const deletionId = 1_000_000;
    const deletion: ClusterDeletion = {
      deletionId,
      channel: 'chan',
      fromUtcNs: 0n,
      toUtcNs: BigInt(Date.now() + 3_600_000) * 1_000_000n, // the deciding node's clock an hour ahead
      recordings: [named.recordingId],
      holds: [],
    };
    const etcd = c.etcd.client();
    try {
      await etcd.put(`${PREFIX}${KEY.deletion(deletionId)}`).value(encodeValue(deletion));
    } finally {
      etcd.close();
    }
    await until('the deletion is filtered on a', async () => (await readFrom(a, named.recordingId)).length === 0, 10_000, 100);

    // made after the commit, same channel, every event inside the deleted interval
    const later = await recordOn(c, 'a', 'chan', 300);
    expect((await readFrom(a, later.recordingId)).map((e) => e.payload)).toEqual(later.sent);

    await b.start();
    await untilReady(c, b);
    await until('b applied the deletion', () => readHolds(b.dir).deletions.some((d) => d.id === deletionId && d.external === true && d.framesDeleted >= 0), 30_000, 100);
    await until('K copies with b back', async () => (await kCopies(c, 2, [a, b])) === true, 30_000, 100);

    // b's own files: the named recording lost its events, the later one kept every one
    expect(indicesInFiles(b, named.recordingId, 'chan').size).toBe(0);
    expect(indicesInFiles(b, later.recordingId, 'chan').size).toBe(300);
    expect(indicesInFiles(a, later.recordingId, 'chan').size).toBe(300);
    expect(readHolds(b.dir).deletions.find((d) => d.id === deletionId)?.recordings).toEqual([named.recordingId]);
    for (const n of [a, b]) {
      expect({ node: n.id, events: (await readFrom(n, later.recordingId)).map((e) => e.payload) }).toEqual({ node: n.id, events: later.sent });
      expect({ node: n.id, events: (await readFrom(n, named.recordingId)).length }).toEqual({ node: n.id, events: 0 });
    }
  }, 90_000);
});

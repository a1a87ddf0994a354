/**
 * The archive tier in a cluster (docs/REPLICATION.md §15) with a location mounted on every node
 * (`archive.shared: true`): one failure domain, so of each segment's holders only the first in
 * node id order archives it and the others keep their copies hot. Real processes, real etcd,
 * real files in one shared directory: after a pass on every node, each sealed segment has
 * exactly one archived copy there, from the right holder, K still counts independent copies,
 * and every node reads every event as sent, also after the archiving node is killed.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir, until } from '../helpers/wait.js';
import { Cluster } from './support/cluster-harness.js';
import { kCopies, payloadsOf, recordOn, segments } from './support/cluster-checks.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

/** Every archived file in the shared location: `<owner node>/<id>-<base>.vcs` -> owner. */
function archivedFiles(location: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!existsSync(location)) return out;
  for (const owner of readdirSync(location)) {
    let names: string[];
    try {
      names = readdirSync(join(location, owner));
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^(\d+)-(\d+)\.vcs$/.exec(n);
      if (!m) continue;
      const k = `${m[1]}-${m[2]}`;
      out.set(k, [...(out.get(k) ?? []), owner]);
    }
  }
  return out;
}

/** Every live node reads the recording's events as sent. */
async function expectEveryNodeServes(c: Cluster, recordingId: number, sent: string[]): Promise<void> {
  for (const n of c.up()) {
    const r = await n.client();
    try {
      expect({ node: n.id, same: (await payloadsOf(r, recordingId)).join(',') === sent.join(',') }).toEqual({ node: n.id, same: true });
    } finally {
      await r.close();
    }
  }
}

describe('archive tier with a shared location in a real cluster', () => {
  it('archives each sealed segment once, by the first holder in node id order; the others stay hot; K and every read hold, also with the archiving node gone', async () => {
    const location = tempDir('vcr-shared-archive-');
    cluster = await Cluster.start({
      n: 3,
      k: 2,
      graceMs: 1000,
      config: { archive: { location, locationId: 'shared-1', shared: true, afterAge: 0, intervalMs: 0, blockSize: 16384 } },
    });
    const c = cluster;
    const { recordingId, sent } = await recordOn(c, 'a', 'shared', 2000);
    await until('K placed copies of sealed segments', async () => {
      if ((await kCopies(c, 2, c.up())) !== true) return false;
      const segs = (await segments(c)).filter((s) => s.recordingId === recordingId);
      return segs.length > 1 && segs.every((s) => s.state === 'sealed' && s.replicas.every((e) => s.placement.includes(e.node)));
    }, 40_000);
    const sealed = (await segments(c)).filter((s) => s.recordingId === recordingId && s.end > s.base);
    expect(sealed.length).toBeGreaterThan(1);

    // one pass on every node, at the same time
    for (const n of c.up()) {
      const client = await n.client();
      try {
        const passId = await client.archiveRun(false);
        await until(`the pass on ${n.id}`, async () => {
          const s = await client.archiveStatus();
          return s.passId >= passId && !s.running ? s : undefined;
        }, 30_000).catch(async (e) => {
          console.log('STATUS', JSON.stringify(await client.archiveStatus().catch((x) => String(x)), (_k, v) => (typeof v === 'bigint' ? String(v) : v)), String(e), n.log.slice(-3000));
          throw e;
        });
      } finally {
        await client.close();
      }
    }

    const archived = archivedFiles(location);
    const archivers = new Map<string, string>();
    for (const s of sealed) {
      const holders = [...new Set(s.replicas.map((r) => r.node))].sort();
      const key = `${recordingId}-${s.base}`;
      // exactly one archived copy of the segment in the shared location, made by the first holder
      expect({ segment: key, owners: archived.get(key) ?? [] }).toEqual({ segment: key, owners: [holders[0]] });
      archivers.set(key, holders[0]!);
      // every other holder keeps its copy hot (its local segment file is still there)
      for (const other of holders.slice(1)) expect({ segment: key, node: other, hot: existsSync(join(c.node(other).dir, `${key}.rec`)) }).toEqual({ segment: key, node: other, hot: true });
      // and the archiving holder's hot file went (its copy lives in the location now)
      expect({ segment: key, hot: existsSync(join(c.node(holders[0]!).dir, `${key}.rec`)) }).toEqual({ segment: key, hot: false });
    }
    // nothing in etcd changed: the same K verified copies
    expect(await kCopies(c, 2, c.up())).toBe(true);
    await expectEveryNodeServes(c, recordingId, sent);

    // the node that archived the most segments goes away: the segments it archived are still read
    // from their hot copies elsewhere, and repair brings them back to K independent copies
    const counts = new Map<string, number>();
    for (const owner of archivers.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    const victimId = [...counts.entries()].sort((x, y) => y[1] - x[1])[0]![0];
    await c.node(victimId).kill(); // SIGKILL
    await until('K copies on the survivors', async () => (await kCopies(c, 2, c.up())) === true, 40_000);
    await expectEveryNodeServes(c, recordingId, sent);
  }, 120_000);
});

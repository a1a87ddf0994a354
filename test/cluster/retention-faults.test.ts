/**
 * Retention on a real cluster (docs/ARCHIVER.md "Retention"): the scheduled pass runs on one
 * node only, the repair coordinator; its deletions go through the cluster's delete path, so
 * reads from every node agree afterwards and a held interval survives everywhere; when the
 * coordinator is killed, the node that takes the role over runs the schedule. The events are
 * old from the start: `vcr import --pcap` dates each with its packet's capture time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir, until } from '../helpers/wait.js';
import { runVcr } from '../helpers/cli.js';
import { ethernet, ipv4, pcapFile, udp } from '../support/capture-writer.js';
import { Cluster, type NodeProcess } from './support/cluster-harness.js';
import { cliJson, readFrom } from './support/consistency-support.js';

const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

/** A capture of `count` events "tag-i", one every 12 hours, the first 10 days ago. */
function capture(tag: string, count: number): { path: string; times: bigint[] } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const times = Array.from({ length: count }, (_, i) => now - 10n * DAY + BigInt(i) * 12n * HOUR);
  const path = join(tempDir('vcr-ret-cap-'), `${tag}.pcap`);
  const frames = times.map((tsNs, i) => ({ tsNs, frame: ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', udp(1000, 2000, Buffer.from(`${tag}-${i}`)))) }));
  writeFileSync(path, pcapFile({ endian: 'le', nano: true, linkType: 1 }, frames));
  return { path, times };
}

function importOn(n: NodeProcess, path: string, channel: string): number {
  const r = runVcr(['import', '--pcap', path, '--channel', channel, '--json', '--archiver', n.control]);
  if (r.status !== 0) throw new Error(`import on ${n.id}: ${r.stderr}`);
  return Number((JSON.parse(r.stdout.trim().split('\n')[0]!) as { recordingId: number }).recordingId);
}

/** Nodes whose log shows a scheduled retention pass (requested false). */
function scheduledOn(c: Cluster): string[] {
  return c.nodes.filter((n) => n.log.split('\n').some((l) => l.includes('"msg":"retention run"') && l.includes('"requested":false'))).map((n) => n.id);
}

async function payloadsEverywhere(nodes: NodeProcess[], recordingId: number): Promise<string[][]> {
  const out: string[][] = [];
  for (const n of nodes) out.push((await readFrom(n, recordingId)).map((e) => e.payload));
  return out;
}

describe('retention on a real cluster', () => {
  it('the coordinator alone runs the schedule, deletes cluster-wide (holds kept on every node), and another node takes over when it is killed', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000, leaseTtlMs: 2000, config: { retention: { interval: '2s', channels: { 'ret.c': { maxAge: '5d' } } } } });
    const c = cluster;
    const [a, b] = c.nodes;
    const first = capture('one', 20);
    // the hold comes first: whatever pass runs after the import must keep one-4..one-6
    const hold = runVcr(['quarantine', 'add', '--channel', 'ret.c', '--from', String(first.times[4]! - 1n), '--to', String(first.times[6]! + 1n), '--archiver', b!.control]);
    expect(hold.status, hold.stderr).toBe(0);
    const rec1 = importOn(a!, first.path, 'ret.c');
    // one-0..one-10 are older than 5 days; one-4..one-6 are held; one-11..one-19 are young
    const expected = ['one-4', 'one-5', 'one-6', ...Array.from({ length: 9 }, (_, i) => `one-${i + 11}`)];
    await until(
      'the scheduled pass deleted the expired events on every node',
      async () => (await payloadsEverywhere(c.nodes, rec1)).every((p) => JSON.stringify(p) === JSON.stringify(expected)),
      20_000,
      200,
    );
    const runners = scheduledOn(c);
    expect(runners).toHaveLength(1);
    const coordinator = c.node(runners[0]!);
    expect(coordinator.log).toContain('became the repair coordinator');
    // a dry run on any node now finds nothing more to delete, and says the hold keeps three events
    for (const n of c.nodes) {
      const lines = cliJson(n, ['retention', '--dry-run']);
      const summary = lines.pop()!;
      expect(summary).toMatchObject({ events: 0 });
      expect(lines.filter((l) => l.kind === 'held').map((l) => [l.channel, l.events])).toEqual([['ret.c', 3]]);
    }

    // the coordinator goes: the node that takes the role over runs the schedule
    await coordinator.kill();
    const live = c.nodes.filter((n) => n !== coordinator);
    const second = capture('two', 20);
    const rec2 = importOn(live[0]!, second.path, 'ret.c');
    // the hold is a time interval: two-4 and two-5 (dated seconds after one-4 and one-5) lie in it too
    const kept2 = ['two-4', 'two-5', ...Array.from({ length: 9 }, (_, i) => `two-${i + 11}`)];
    await until(
      'the new coordinator deleted the second recording`s expired events on every live node',
      async () => (await payloadsEverywhere(live, rec2)).every((p) => JSON.stringify(p) === JSON.stringify(kept2)),
      25_000,
      200,
    ).catch((err: unknown) => {
      for (const n of c.nodes) console.log('LOG', n.id, n.log.split('\n').filter((l) => l.includes('retention') || l.includes('coordinator') || l.includes('error')).slice(-15).join('\n'));
      throw err;
    });
    expect(scheduledOn(c).sort()).toEqual([coordinator.id, live.find((n) => n.log.includes('became the repair coordinator'))!.id].sort());
    // the first recording is unchanged everywhere it is read
    for (const p of await payloadsEverywhere(live, rec1)) expect(p).toEqual(expected);
  }, 60_000);
});

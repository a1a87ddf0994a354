/**
 * Deletions on a real cluster (docs/REPLICATION.md §5.5, §8, §9): segments whose every frame
 * was deleted (tombstones) are read past on every node, fetched and repaired as tombstones; a
 * delete whose end lies in the future hides only what was recorded before it committed; a
 * pull-read chunk whose events are all hidden still reports progress; a read no holder can
 * answer fails with REPLICA_UNAVAILABLE before the client gives up.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArchiveClient } from '../../src/client/archive-client.js';
import { readRecording } from '../../src/client/event-reader.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { removeTempDirs, sleep, until } from '../helpers/wait.js';
import { Cluster, type NodeProcess } from './support/cluster-harness.js';
import { kCopies, payloadsOf, recordOn, segments } from './support/cluster-checks.js';
import { eventsOf } from './support/consistency-support.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

/** Every payload of a recording through the UDP pull read (ReadRequest chunks), not the stream. */
async function pulledPayloads(client: ArchiveClient, recordingId: number): Promise<string[]> {
  const start = (await client.describeRecording(recordingId)).startPosition;
  const out: string[] = [];
  for await (const e of readRecording((req) => client.readChunk(req), { recordingId, position: start }, sleep)) out.push(Buffer.from(e.payload).toString());
  return out;
}

async function withClient<T>(n: NodeProcess, f: (cl: ArchiveClient) => Promise<T>): Promise<T> {
  const cl = await n.client();
  try {
    return await f(cl);
  } finally {
    await cl.close();
  }
}

function tombstones(n: NodeProcess, recordingId: number): number[] {
  return readdirSync(n.dir)
    .map((f) => new RegExp(`^${recordingId}-(\\d+)\\.del$`).exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

async function dump(c: Cluster): Promise<void> {
  const segs = (await segments(c)).map((x) => [x.recordingId, x.base, x.state, x.end, x.placement, x.replicas.map((r) => r.node)]);
  console.log('SEGMENTS', JSON.stringify(segs));
  for (const n of c.nodes) console.log('LOG', n.id, n.log.split('\n').filter((l) => !l.includes('control session')).slice(-30).join('\n'));
}

describe('deletions on a real cluster', () => {
  it('segments whose every frame was deleted are read past on every node (stream and pull), and repaired as tombstones after a holder is killed', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000, leaseTtlMs: 2000 });
    const c = cluster;
    const { recordingId, sent } = await recordOn(c, 'a', 'tomb', 3000); // ~11 segments of 64 KiB
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    const all = await withClient(c.node('a'), (cl) => eventsOf(cl, recordingId));
    expect(all.length).toBe(3000);
    const deleted = await withClient(c.node('b'), (cl) => cl.deleteEvents({ channel: 'tomb', fromUtcNs: all[0]!.utcNs, toUtcNs: all[2499]!.utcNs }));
    expect(deleted).toBeGreaterThanOrEqual(0);
    // every holder applies it: the first segments become tombstones on each of their holders
    await until('tombstones on the holders', async () => {
      const segs = (await segments(c)).filter((s) => s.recordingId === recordingId && s.state === 'sealed' && s.lastUtcNs <= all[2499]!.utcNs);
      if (segs.length < 3) return false;
      return segs.every((s) => s.replicas.every((e) => tombstones(c.node(e.node), recordingId).includes(s.base)));
    }, 20_000);
    const kept = sent.slice(2500);
    for (const n of c.up()) {
      const streamed = await withClient(n, (cl) => payloadsOf(cl, recordingId)).catch(async (e) => {
        await dump(c);
        throw e;
      });
      expect({ node: n.id, count: streamed.length }).toEqual({ node: n.id, count: kept.length });
      expect(streamed).toEqual(kept);
      const pulled = await withClient(n, (cl) => pulledPayloads(cl, recordingId));
      expect(pulled).toEqual(kept);
    }
    // kill a holder of tombstones: the node that had no copy of them fetches them from the other holder
    const segs = (await segments(c)).filter((s) => s.recordingId === recordingId);
    const tombSeg = segs.find((s) => s.state === 'sealed' && s.lastUtcNs <= all[2499]!.utcNs && s.replicas.every((e) => e.node !== 'a'))
      ?? segs.find((s) => s.state === 'sealed' && s.lastUtcNs <= all[2499]!.utcNs)!;
    const victim = tombSeg.replicas[0]!.node;
    await c.node(victim).kill();
    const live = c.up();
    await until('repair back to K live copies', async () => (await kCopies(c, 2, live)) === true, 40_000, 100).catch(async (e) => {
      await dump(c);
      throw e;
    });
    const target = live.find((n) => !tombSeg.replicas.some((e) => e.node === n.id))!;
    expect(tombstones(target, recordingId)).toContain(tombSeg.base);
    for (const n of live) {
      const streamed = await withClient(n, (cl) => payloadsOf(cl, recordingId));
      expect({ node: n.id, events: streamed }).toEqual({ node: n.id, events: kept });
    }
  }, 60_000);

  it('a delete whose end lies in the future spares what is recorded after it; a chunk of hidden events reports progress; a read no holder answers fails with REPLICA_UNAVAILABLE', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000, leaseTtlMs: 8000 });
    const c = cluster;
    const first = await recordOn(c, 'a', 'later', 100);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    const hourNs = 3_600_000_000_000n;
    const farFuture = BigInt(Date.now()) * 1_000_000n + hourNs;
    await withClient(c.node('b'), (cl) => cl.deleteEvents({ channel: 'later', fromUtcNs: 0n, toUtcNs: farFuture }));
    // the deleted recording: every node answers a pull read at once, with the end and no events
    for (const n of c.up()) {
      const chunk = await withClient(n, (cl) => cl.readChunk({ recordingId: first.recordingId, position: 0, fragmentOffset: 0, maxBytes: 56 * 1024 }));
      expect({ node: n.id, events: chunk.events.length, end: chunk.endOfRecording }).toEqual({ node: n.id, events: 0, end: true });
      expect(await withClient(n, (cl) => payloadsOf(cl, first.recordingId))).toEqual([]);
    }
    // recorded after the delete committed: served everywhere, by recording and by channel
    const second = await recordOn(c, 'a', 'later', 100);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    for (const n of c.up()) {
      const got = await withClient(n, (cl) => payloadsOf(cl, second.recordingId)).catch(async (e) => {
        console.log('READ FAIL', n.id, readdirSync(n.dir).join(' '));
        await dump(c);
        throw e;
      });
      expect({ node: n.id, events: got }).toEqual({ node: n.id, events: second.sent });
      const byChannel = await withClient(n, async (cl) => {
        const out: string[] = [];
        for await (const e of cl.events({ channels: ['later'], fromUtcNs: 0n, toUtcNs: farFuture })) out.push(Buffer.from(e.payload).toString());
        return out;
      });
      expect({ node: n.id, events: byChannel }).toEqual({ node: n.id, events: second.sent });
    }
    // a segment whose both holders are paused: a pull read of it on the third node fails with
    // REPLICA_UNAVAILABLE before the client's attempts (3 x 1 s) run out
    const third = await recordOn(c, 'a', 'stalled', 600);
    await until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000);
    const seg = await until('a segment held by two nodes other than one', async () => {
      const segs = (await segments(c)).filter((s) => s.recordingId === third.recordingId && s.state === 'sealed' && s.end > s.base);
      return segs.find((s) => s.replicas.length === 2 && s.replicas.every((e) => s.placement.includes(e.node)));
    }, 20_000);
    const reader = c.nodes.find((n) => !seg.replicas.some((e) => e.node === n.id))!;
    const client = await reader.client();
    const holders = seg.replicas.map((e) => c.node(e.node));
    try {
      for (const h of holders) h.pause();
      const err = await client.readChunk({ recordingId: third.recordingId, position: Math.max(seg.base, 0), fragmentOffset: 0, maxBytes: 56 * 1024 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVcrError(err) ? err.code : err).toBe(ErrorCode.REPLICA_UNAVAILABLE);
    } finally {
      for (const h of holders) h.resume();
      await client.close();
    }
  }, 60_000);
});

/**
 * What the fault tests check on a real cluster, from the outside: the segment records in etcd
 * (placement, verified replica entries, digests), the files on each node's disk, and the events
 * every node serves through the client library.
 */
import { createSocket } from 'node:dgram';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeValue, type ClusterRecording, type ClusterSegment } from '../../../src/cluster/cluster-keys.js';
import type { ArchiveClient } from '../../../src/client/archive-client.js';
import { until } from '../../helpers/wait.js';
import { freeUdpPort, type Cluster, type NodeProcess } from './cluster-harness.js';

export const PREFIX = '/vcr/test/';

export async function segments(c: Cluster): Promise<ClusterSegment[]> {
  const etcd = c.etcd.client();
  try {
    const kvs = await etcd.getAll().prefix(`${PREFIX}s/`).strings();
    return Object.values(kvs)
      .map((v) => decodeValue<ClusterSegment>(v)!)
      .sort((a, b) => a.recordingId - b.recordingId || a.base - b.base);
  } finally {
    etcd.close();
  }
}

export async function recordings(c: Cluster): Promise<ClusterRecording[]> {
  const etcd = c.etcd.client();
  try {
    const kvs = await etcd.getAll().prefix(`${PREFIX}r/`).strings();
    return Object.values(kvs).map((v) => decodeValue<ClusterRecording>(v)!);
  } finally {
    etcd.close();
  }
}

/** The node's segment file of (R, base) exists with bytes in it, or its tombstone `<R>-<base>.del` (every frame deleted). */
export function hasSegmentFile(n: NodeProcess, recordingId: number, base: number): boolean {
  const p = join(n.dir, `${recordingId}-${base}.rec`);
  if (existsSync(p) && statSync(p).size > 0) return true;
  // a tombstone's deletion log, or the reference to an archived copy (docs/ARCHIVER.md, archive tier)
  return existsSync(join(n.dir, `${recordingId}-${base}.del`)) || existsSync(join(n.dir, `${recordingId}-${base}.arc`));
}

/**
 * Every sealed, non-empty segment has at least `k` verified replica entries on distinct nodes
 * among `live`, and each of those nodes has the file. Returns a reason when not.
 */
export async function kCopies(c: Cluster, k: number, live: NodeProcess[]): Promise<string | true> {
  const ids = new Set(live.map((n) => n.id));
  const segs = await segments(c);
  if (segs.length === 0) return 'no segments yet';
  for (const s of segs) {
    if (s.state !== 'sealed' || s.end <= s.base) continue;
    const holders = [...new Set(s.replicas.map((e) => e.node))].filter((n) => ids.has(n));
    if (holders.length < k) return `segment ${s.recordingId}/${s.base} has ${holders.length} live copies (${holders.join(',')})`;
    for (const h of holders) if (!hasSegmentFile(c.node(h), s.recordingId, s.base)) return `node ${h} is listed for ${s.recordingId}/${s.base} but has no file`;
  }
  return true;
}

export interface Sent {
  payload: string;
}

/** Sends `count` datagrams "tag-i" (about `size` bytes) to a UDP port, `perTick` at a time. */
export async function sendEvents(port: number, tag: string, count: number, size = 200, perTick = 200): Promise<string[]> {
  const s = createSocket('udp4');
  const sent: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const head = `${tag}-${i}-`;
      const payload = head + 'x'.repeat(Math.max(0, size - head.length));
      sent.push(payload);
      await new Promise<void>((r, j) => s.send(payload, port, '127.0.0.1', (e) => (e ? j(e) : r())));
      if (i % perTick === perTick - 1) await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    s.close();
  }
  return sent;
}

/** Every payload of a recording, read through the client of one node (the reliable read path). */
export async function payloadsOf(client: ArchiveClient, recordingId: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of client.read({ recordingId })) out.push(Buffer.from(e.payload).toString());
  return out;
}

/** Waits until every sealed, non-empty segment has K verified copies, all on its placement targets. */
export async function untilKPlacedCopies(c: Cluster, k: number, timeoutMs: number): Promise<void> {
  await until('K placed copies', async () => {
    if ((await kCopies(c, k, c.up())) !== true) return false;
    return (await segments(c)).every((s) => s.state !== 'sealed' || s.end <= s.base || s.replicas.every((e) => s.placement.includes(e.node)));
  }, timeoutMs);
}

/** Records `count` events on node `on` into a new recording of `channel`; returns once etcd has it stopped and sealed. */
export async function recordOn(c: Cluster, on: string, channel: string, count: number): Promise<{ recordingId: number; sent: string[] }> {
  const client = await c.node(on).client();
  let recordingId: number;
  let sent: string[];
  try {
    const port = await freeUdpPort();
    recordingId = await client.startRecording({ channel, source: `udp://127.0.0.1:${port}` });
    sent = await sendEvents(port, channel, count);
    await until('all events recorded', async () => (await client.describeRecording(recordingId)).eventCount >= count, 20_000);
    await client.stopRecording({ recordingId });
  } finally {
    await client.close();
  }
  // the stop and the last seal reach etcd after the answer (the recorder's reconciler publishes them)
  await until('stopped and sealed in etcd', async () => {
    const rec = (await recordings(c)).find((r) => r.recordingId === recordingId);
    return rec?.state === 'stopped' && (await segments(c)).every((s) => s.recordingId !== recordingId || s.state === 'sealed');
  }, 20_000);
  return { recordingId, sent };
}

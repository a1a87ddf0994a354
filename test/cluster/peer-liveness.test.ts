/**
 * Peer-link liveness on a real cluster (docs/REPLICATION.md §5.1, §11): a link cut by a
 * blackhole (no RST, no FIN, bytes just stop) is detected by the transport's heartbeats within
 * about `heartbeatTimeoutMs` (3 s), not left to the data path's own timeouts (a fetch window's
 * `stallMs`, 10 s; a mirror target's verify deadline). The nodes stay up in etcd throughout:
 * only the peer link between two of them is cut, so nothing but the link's own liveness can
 * tell the data path that it is dead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { kCopies, segments, sendEvents, untilKPlacedCopies } from './support/cluster-checks.js';
import { dumpCluster, readEverywhere } from './support/partition-support.js';

/** The transport's default heartbeat timeout on peer links, and the fetch window's stall timeout. */
const HEARTBEAT_TIMEOUT_MS = 3000;
const STALL_MS = 10_000;

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

interface LogLine {
  time: number;
  msg: string;
  [k: string]: unknown;
}

/** The node's JSON log lines with message `msg`. */
function logLines(log: string, msg: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const l = JSON.parse(line) as LogLine;
      if (l.msg === msg) out.push(l);
    } catch {
      // a line cut by the log buffer's limit
    }
  }
  return out;
}

describe('peer-link liveness (heartbeats) on a real cluster', () => {
  it('a read whose holder is blackholed from the reader goes to the other holder after about heartbeatTimeoutMs, not stallMs', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, proxied: true, graceMs: 1000, leaseTtlMs: 2000, maxLagMs: 2000 });
    const c = cluster;
    const rec = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await rec.startRecording({ channel: 'hb-read', source: `udp://127.0.0.1:${port}` });
    const sent = await sendEvents(port, 'H', 3000);
    await until('recorded', async () => (await rec.describeRecording(recordingId)).eventCount >= sent.length, 20_000);
    await rec.stopRecording({ recordingId });
    await rec.close();
    await untilKPlacedCopies(c, 2, 40_000);
    // the reader lacks some segments; the victim is the first holder it asks for one of them
    const segs = (await segments(c)).filter((s) => s.recordingId === recordingId && s.end > s.base);
    const reader = ['a', 'b', 'c'].find((n) => segs.filter((s) => !s.replicas.some((e) => e.node === n)).length >= 2) ?? 'a';
    const lacking = segs.filter((s) => !s.replicas.some((e) => e.node === reader));
    const victim = lacking[0]!.replicas[0]!.node;
    // only the reader-victim link is cut: the victim stays up in etcd and in the view, a live holder
    c.links!.cutPeers(reader, victim, 'blackhole');
    const logAt = c.node(reader).log.length;
    const client = await c.node(reader).client();
    const got: string[] = [];
    const started = Date.now();
    try {
      for await (const e of client.read({ recordingId })) got.push(Buffer.from(e.payload).toString());
    } finally {
      await client.close();
    }
    const elapsed = Date.now() - started;
    expect({ reader, victim, events: got.length, same: got.every((x, i) => x === sent[i]) }).toEqual({ reader, victim, events: sent.length, same: true });
    const left = logLines(c.node(reader).log.slice(logAt), 'fetch leaves a holder').filter((l) => l.holder === victim);
    // the window sent into the blackhole was abandoned because the link died, not because it stalled
    expect(left.length).toBeGreaterThan(0);
    expect(left.map((l) => String(l.why)).filter((w) => w === 'stalled')).toEqual([]);
    expect(elapsed).toBeLessThan(STALL_MS - 2000);
    expect(elapsed).toBeGreaterThan(HEARTBEAT_TIMEOUT_MS - 1000);
    const lost = logLines(c.node(reader).log.slice(logAt), 'peer connection lost').filter((l) => l.peer === victim);
    expect(lost.length).toBeGreaterThan(0);
    c.links!.healAll();
    for (const [node, events] of await readEverywhere(c, recordingId)) expect({ node, events: events.length }).toEqual({ node, events: sent.length });
  }, 120_000);

  it('a mirror target blackholed from the recorder is dropped from the live mirror within about heartbeatTimeoutMs, and catches up from the files after heal', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, proxied: true, graceMs: 1000, leaseTtlMs: 2000, maxLagMs: 2000 });
    const c = cluster;
    const a = await c.node('a').client();
    const port = await freeUdpPort();
    const recordingId = await a.startRecording({ channel: 'hb-mirror', source: `udp://127.0.0.1:${port}` });
    const sent = await sendEvents(port, 'm0', 300);
    // a target of a's open segment other than a itself
    const open = await until('the open segment placed', async () => (await segments(c)).find((s) => s.recordingId === recordingId && s.state === 'open' && s.placement.some((p) => p !== 'a')), 20_000);
    const target = open.placement.find((p) => p !== 'a')!;
    const logAt = c.node('a').log.length;
    const cutAt = Date.now();
    c.links!.cutPeers('a', target, 'blackhole');
    const sending = (async () => {
      const out: string[] = [];
      for (let round = 1; round <= 8; round++) {
        out.push(...(await sendEvents(port, `m${round}`, 150)));
        await new Promise((r) => setTimeout(r, 250));
      }
      return out;
    })();
    const lost = await until(
      'the recorder drops the blackholed target',
      () => logLines(c.node('a').log.slice(logAt), 'peer connection lost').find((l) => l.peer === target && l.outbound === true),
      STALL_MS,
    );
    const detectedMs = Date.now() - cutAt;
    expect(detectedMs).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 3000);
    expect(String(lost.reason)).toMatch(/heartbeat/);
    sent.push(...(await sending));
    c.links!.healAll();
    await until('all recorded', async () => (await a.describeRecording(recordingId)).eventCount >= sent.length, 20_000);
    await a.stopRecording({ recordingId });
    await a.close();
    await until(
      'every sealed segment on its placement with K copies after heal',
      async () => {
        if ((await kCopies(c, 2, c.up())) !== true) return false;
        return (await segments(c)).every((s) => s.state !== 'sealed' || s.end <= s.base || s.placement.every((p) => s.replicas.some((e) => e.node === p)));
      },
      40_000,
    ).catch(async (e) => {
      await dumpCluster(c);
      throw e;
    });
    for (const [node, events] of await readEverywhere(c, recordingId)) expect({ node, events: events.length, same: events.every((x, i) => x === sent[i]) }).toEqual({ node, events: sent.length, same: true });
  }, 120_000);
});

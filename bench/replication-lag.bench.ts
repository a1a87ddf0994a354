/**
 * Replication lag at 100,000 events/s (SPEC §4: "a stated bound, shown in `vcr cluster
 * status`"; docs/REPLICATION.md §5.2 and §11).
 *
 * A real etcd and 3 real archivers (`vcr archiver --cluster FILE --node ID`, K=2, graceMs
 * 1,000, default 64 MiB segments) in temp dirs on free loopback ports. Node a records
 * udp://127.0.0.1:PORT while the C sendmmsg sender (bench/udp/sender.c) sends 200-byte
 * datagrams at 100,000/s (full: 20 s; quick: 5 s). Every 100 ms (after the previous answer)
 * node a's clusterStatus() is sampled: nodes[].lagBytes and lagMs are how far each mirror
 * target (b, c) is behind a's recordings (§5.2: recorder position - acked position; UTC of
 * the last recorded event - UTC of the last acked one). Figures: the max and p99 over the
 * samples taken while sending, over both targets, in bytes and in ms, against the
 * "lagging" thresholds (maxLagBytes 64 MiB, maxLagMs 5 s); the time to catch up (lag 0 on
 * both targets) after the sender stops; and the recorder's loss (sent - recorded, by its
 * per-channel events counter) against a single-node archiver (no cluster) recording the same
 * stream from the same sender in the same run (the baseline: replication must not cost
 * recording anything). The single node runs first and is stopped before the cluster starts.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/replication-lag.bench.js [--quick] [--seconds S] [--rate R]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { ArchiveClient } from '../src/client/index.js';
import { BenchCluster, EtcdUnavailable, statusLine } from './lib/bench-cluster.js';
import { argNumber, isQuick, note, notMeasured, printFigures, record } from './lib/results.js';
import { freeUdpPort, startArchiver } from './udp/archiver-process.js';
import { cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';
import { buildSender, send, settledCount, sleep, type SendResult } from './udp/harness.js';
import { perSec } from './udp/report.js';

const BENCH = 'replication-lag';
const quick = isQuick();
const RATE = argNumber('--rate', 100_000);
const SECONDS = argNumber('--seconds', 20, 5);
const SIZE = 200;
const SAMPLE_MS = 100;
const MAX_LAG_BYTES = 64 * 2 ** 20;
const MAX_LAG_MS = 5000;
const CHANNEL = 'bench.lag';

installCleanup(BENCH, quick ? 58_000 : 300_000);

const log = (s: string) => process.stderr.write(`${BENCH}: ${s}\n`);

interface Sample {
  atS: number;
  sending: boolean;
  lagBytes: number;
  lagMs: number;
}

interface RecordRun {
  sent: SendResult;
  recorded: number;
  /** where the loss was counted: the recorder's kernelDrops and queueDrops counters */
  drops?: string;
}

async function dropsOf(counters: () => Promise<Map<string, number>>): Promise<string> {
  const c = await counters();
  return `kernelDrops ${c.get('kernelDrops') ?? 0}, queueDrops ${c.get('queueDrops') ?? 0}`;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Sends the stream to `port` and returns what was sent and what the recorder counted; `onSent` when the sender is done. */
async function sendAndCount(sender: string, port: number, count: () => Promise<number>, onSent?: () => void): Promise<RecordRun> {
  const before = await count();
  const sent = await send(sender, port, RATE * SECONDS, SIZE, RATE).finally(onSent);
  const after = await settledCount({ name: 'recorder', port, count, stop: async () => undefined, quietMs: 500 }, 500, 15_000);
  return { sent, recorded: after - before };
}

async function singleNode(sender: string): Promise<RecordRun> {
  const ar = await startArchiver(join(tempDir('lag-single'), 'archive'), { config: { logLevel: 'warn' } });
  try {
    const port = await freeUdpPort();
    await ar.client.startRecording({ channel: CHANNEL, source: `udp://127.0.0.1:${port}` });
    const r = await sendAndCount(sender, port, () => ar.counter(`channel.${CHANNEL}.events`));
    return { ...r, drops: await dropsOf(() => ar.counters()) };
  } finally {
    await ar.stop();
  }
}

async function countersOf(c: ArchiveClient): Promise<Map<string, number>> {
  const s = await c.stats();
  return new Map([...s.counters].map(([k, v]) => [k, Number(v)]));
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const sender = buildSender();
  const single = await singleNode(sender);
  const lossPct = (r: RecordRun) => (100 * (r.sent.sent - r.recorded)) / r.sent.sent;
  log(`single node: sent ${r2(single)}`);

  let cluster: BenchCluster;
  try {
    cluster = await BenchCluster.start({ n: 3, k: 2, graceMs: 1000 });
  } catch (err) {
    if (!(err instanceof EtcdUnavailable)) throw err;
    const fig = { bench: BENCH, unit: 'ms', targets: [{ op: '<=' as const, value: MAX_LAG_MS, text: '<= 5,000 ms (maxLagMs: lagging past it)' }] };
    notMeasured({ ...fig, figure: `mirror lag at ${perSec(RATE)} of ${SIZE} B, max` }, err.message);
    return;
  }
  try {
    // a node recording 100,000/s on a loaded machine may take seconds to answer: a patient session
    const a = await cluster.client('a', 5000);
    const port = await freeUdpPort();
    await a.startRecording({ channel: CHANNEL, source: `udp://127.0.0.1:${port}` });
    const samples: Sample[] = [];
    let sending = true;
    let sampling = true;
    const t0 = process.hrtime.bigint();
    const at = () => Number(process.hrtime.bigint() - t0) / 1e9;
    let unanswered = 0;
    let slowestS = 0;
    const sampler = (async () => {
      while (sampling) {
        const asked = at();
        const askedSending = sending;
        let s;
        try {
          s = await a.clusterStatus();
        } catch (err) {
          unanswered++;
          log(`clusterStatus unanswered at +${asked.toFixed(1)} s: ${(err as Error).message}`);
          continue;
        }
        const now = at();
        slowestS = Math.max(slowestS, now - asked);
        // a sample counts as "while sending" when it was asked before the sender finished
        for (const n of s.nodes) if (n.id !== 'a') samples.push({ atS: now, sending: askedSending, lagBytes: n.lagBytes, lagMs: n.lagMs });
        if (!askedSending && s.nodes.every((n) => n.id === 'a' || (n.lagBytes === 0 && n.lagMs === 0))) return { caughtUpS: now, last: s };
        await sleep(SAMPLE_MS);
      }
      return { caughtUpS: undefined, last: undefined };
    })();
    let stopS = 0;
    const counted = await sendAndCount(sender, port, async () => (await countersOf(a)).get(`channel.${CHANNEL}.events`) ?? 0, () => {
      sending = false;
      stopS = at();
    });
    const run = { ...counted, drops: await dropsOf(() => countersOf(a)) };
    log(`cluster: sent ${r2(run)}`);
    const catchUp = await Promise.race([sampler, sleep(30_000).then(() => ({ caughtUpS: undefined, last: undefined }))]);
    sampling = false;
    await sampler;
    if (catchUp.last) log(`caught up: ${statusLine(catchUp.last)}`);
    const load1 = loadavg()[0]!;

    const during = samples.filter((s) => s.sending);
    const tail = samples.slice(-2).map((x) => `${(x.lagBytes / 1024).toFixed(0)} KiB / ${x.lagMs} ms`);
    if (catchUp.caughtUpS === undefined) note(BENCH, `not caught up 30 s after the sender finished: last lag samples (b, c or one of them) ${tail.join(', ')}`);
    const bytes = during.map((s) => s.lagBytes);
    const ms = during.map((s) => s.lagMs);
    const KiB = 1024;
    const what = `at ${perSec(RATE)} of ${SIZE} B, ${SECONDS} s, 2 targets`;
    const bytesTarget = [{ op: '<=' as const, value: MAX_LAG_BYTES / KiB, text: '<= 64 MiB (maxLagBytes: lagging past it)' }];
    const msTarget = [{ op: '<=' as const, value: MAX_LAG_MS, text: '<= 5,000 ms (maxLagMs: lagging past it)' }];
    const n = `${during.length} samples (every ${SAMPLE_MS} ms after the previous answer; with few samples p99 is the max)`;
    record({ bench: BENCH, figure: `mirror lag ${what}, max`, value: Math.max(...bytes) / KiB, unit: 'KiB', targets: bytesTarget, note: n });
    record({ bench: BENCH, figure: `mirror lag ${what}, p99`, value: percentile(bytes, 99) / KiB, unit: 'KiB', targets: bytesTarget });
    record({ bench: BENCH, figure: `mirror lag ${what}, max`, value: Math.max(...ms), unit: 'ms', targets: msTarget });
    record({ bench: BENCH, figure: `mirror lag ${what}, p99`, value: percentile(ms, 99), unit: 'ms', targets: msTarget });
    record({ bench: BENCH, figure: `  mirror lag, median`, value: percentile(ms, 50), unit: 'ms' });
    record({ bench: BENCH, figure: '  slowest clusterStatus() answer from node a (sampling)', value: slowestS * 1000, unit: 'ms', note: `${unanswered} request(s) unanswered after 2 attempts of 5 s` });
    record({ bench: BENCH, figure: '  catch-up after the sender finished (first answer with lag 0 on both targets)', value: catchUp.caughtUpS === undefined ? null : catchUp.caughtUpS - stopS, unit: 's', why: 'not caught up within 30 s' });
    record({
      bench: BENCH,
      figure: `recorder loss on node a (cluster, K=2, mirroring live) ${what}`,
      value: lossPct(run),
      unit: '%',
      baseline: { name: 'single-node archiver (no cluster), same sender and rate', value: lossPct(single) },
      targets: [{ op: '<=', value: lossPct(single), text: "<= the single-node archiver's loss (replication must not cost recording)" }],
      note: `sent ${run.sent.sent} at ${perSec(run.sent.sent / (run.sent.elapsedNs / 1e9))}, recorded ${run.recorded}`,
    });
    note(
      BENCH,
      `single node: sent ${r2(single)}; cluster node a: sent ${r2(run)}; lag samples while sending: ${during.length}, after: ${samples.length - during.length}; ` +
        `load average ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at the end (2 shared cores: etcd, 3 archivers, the sender and this process)`,
    );
  } finally {
    await cluster.stop();
  }
}

function r2(r: RecordRun): string {
  return `${r.sent.sent} at ${perSec(r.sent.sent / (r.sent.elapsedNs / 1e9))}, recorded ${r.recorded} (lost ${r.sent.sent - r.recorded}; ${r.drops ?? 'drops unknown'})`;
}

main()
  .then(() => {
    printFigures(`${BENCH}${quick ? ' (quick)' : ''}`);
    cleanupNow();
    process.exit(0);
  })
  .catch((err: unknown) => {
    process.stderr.write(`${BENCH}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });

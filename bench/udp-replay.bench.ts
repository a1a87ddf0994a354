/**
 * UDP replay at full speed (SPEC §4: "UDP replay at full speed >= 250,000 events/s").
 *
 * An archive with one recording of N events (default 1,000,000 of 150 bytes) is built
 * in-process through src/storage; a real archiver process (`vcr archiver`) is started on it,
 * and a replay at speed 0 to udp://127.0.0.1:PORT is requested through the client library.
 * A separate receiver process (bench/udp/bare-receiver.ts, a bare dgram socket with an 8 MiB
 * SO_RCVBUF request) counts the datagrams and the time of the last one.
 *  - subject: the archiver's replay. Received rate = datagrams received / (last receipt -
 *    request sent); send rate = events sent / (replayEnded notification - request sent).
 *  - baseline: a bare Node.js dgram sender loop (bench/udp/bare-sender.ts, same in-flight cap
 *    of 2048 as the archiver's replay sender) sending N datagrams of the same size to a fresh
 *    receiver of the same kind; rates measured from its loop start.
 * Loss (sent - received) is reported for both: at full speed the receiver, not the sender, is
 * usually what loses. Rounds interleave baseline and subject; each figure is the best round.
 * All processes run at nice -10 (--no-boost to keep the default).
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/udp-replay.bench.js [--quick] [--events N] [--size B] [--rounds N]
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NotificationKind, type Notification } from '../src/client/index.js';
import { Archive } from '../src/storage/index.js';
import { startArchiver, type ArchiverProcess } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir, trackChild } from './udp/cleanup.js';
import { buildSender, send, settledCount, startBareReceiver, type BareReceiver } from './udp/harness.js';
import { argNumber, bar, isQuick, printFigures, record } from './lib/results.js';
import { perSec, pct } from './udp/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const BENCH = 'udp-replay';
const args = process.argv.slice(2);
const EVENTS = argNumber('--events', 1_000_000, 50_000);
const SIZE = argNumber('--size', 150);
const ROUNDS = argNumber('--rounds', 2, 1);
const RCVBUF = 8 * 1024 * 1024;
const MAX_IN_FLIGHT = 2048;
const TARGET = 250_000;
/** Paced replay: events recorded 1 ms apart, replayed at speed 1 (SPEC §4: median gap error <= 1 ms). */
const PACED_EVENTS = argNumber('--paced-events', 3_000, 500);
const PACED_GAP_NS = 1_000_000;

installCleanup(BENCH, isQuick() ? 40_000 : 175_000);
const priority = args.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

interface RunResult {
  received: number;
  /** datagrams received per second, from the start to the last receipt */
  receivedRate: number;
  /** datagrams sent per second, from the start to the sender's end */
  sendRate: number;
}

/** Builds the archive in-process; returns the recordingIds (full speed, paced). */
function buildArchive(dir: string): { fast: number; paced: number } {
  const t0 = process.hrtime.bigint();
  const archive = Archive.open(dir);
  try {
    const utc0 = BigInt(Date.now()) * 1_000_000n;
    const mono0 = process.hrtime.bigint();
    const w = archive.createRecording({ channel: 'bench.replay', source: 'udp://127.0.0.1:9', startUtcNs: utc0, startMonoNs: mono0 });
    const payload = Buffer.alloc(SIZE, 0x78);
    for (let i = 0; i < EVENTS; i++) {
      payload.writeBigUInt64LE(BigInt(i), 0);
      const dt = BigInt(i) * 1000n; // 1 µs apart: irrelevant at speed 0
      w.append(payload, 0, SIZE, utc0 + dt, mono0 + dt);
      if ((i & 4095) === 4095) w.commit();
    }
    w.stop();
    const p = archive.createRecording({ channel: 'bench.paced', source: 'udp://127.0.0.1:9', startUtcNs: utc0, startMonoNs: mono0 });
    for (let i = 0; i < PACED_EVENTS; i++) {
      payload.writeBigUInt64LE(BigInt(i), 0);
      const dt = BigInt(i) * BigInt(PACED_GAP_NS);
      p.append(payload, 0, SIZE, utc0 + dt, mono0 + dt);
    }
    p.stop();
    process.stdout.write(`archive built: ${EVENTS.toLocaleString('en-US')} events of ${SIZE} B in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s\n`);
    return { fast: w.recordingId, paced: p.recordingId };
  } finally {
    archive.close();
  }
}

async function runBaseline(): Promise<RunResult> {
  const rx = await startBareReceiver(RCVBUF);
  try {
    const child = trackChild(
      spawn(process.execPath, [join(here, 'udp/bare-sender.js'), '127.0.0.1', String(rx.port), String(EVENTS), String(SIZE), String(MAX_IN_FLIGHT)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    let startNs = 0n;
    let elapsedNs = 0;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const s = /^start (\d+)/.exec(line);
        if (s) startNs = BigInt(s[1]!);
        const m = /^sent (\d+) (\d+)/.exec(line);
        if (m) elapsedNs = Number(m[2]);
      });
      child.once('exit', (code) => (code === 0 && elapsedNs > 0 ? resolve() : reject(new Error(`bare sender failed (exit ${code})`))));
    });
    await settledCount(rx, 300);
    const t = await rx.timing();
    return { received: t.received, receivedRate: t.received / (Number(t.lastNs - startNs) / 1e9), sendRate: EVENTS / (elapsedNs / 1e9) };
  } finally {
    await rx.stop();
  }
}

async function runReplay(ar: ArchiverProcess, recordingId: number, rx?: BareReceiver, speed = 0): Promise<RunResult> {
  const own = rx === undefined;
  rx ??= await startBareReceiver(RCVBUF);
  let unsubscribe: (() => Promise<void>) | undefined;
  try {
    const ended = new Map<number, { eventsSent: number; atNs: bigint }>();
    let onEnded: (() => void) | undefined;
    unsubscribe = await ar.client.subscribe(NotificationKind.replay, (n: Notification) => {
      if (n.type === 'replayEnded') {
        ended.set(n.replaySessionId, { eventsSent: n.eventsSent, atNs: process.hrtime.bigint() });
        onEnded?.();
      }
    });
    const t0 = process.hrtime.bigint();
    const replayId = await ar.client.replay({ recordingId, destination: `udp://127.0.0.1:${rx.port}`, speed });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no replayEnded notification within 90 s')), 90_000);
      onEnded = () => {
        if (ended.has(replayId)) {
          clearTimeout(t);
          resolve();
        }
      };
      onEnded();
    });
    await settledCount(rx, 300);
    const t = await rx.timing();
    const e = ended.get(replayId)!;
    if (speed === 0 && e.eventsSent !== EVENTS) process.stdout.write(`warning: the replay sent ${e.eventsSent} of ${EVENTS} events\n`);
    return { received: t.received, receivedRate: t.received / (Number(t.lastNs - t0) / 1e9), sendRate: e.eventsSent / (Number(e.atNs - t0) / 1e9) };
  } finally {
    await unsubscribe?.().catch(() => undefined);
    if (own) await rx.stop();
  }
}

/** Median |arrival gap - 1 ms| at a bare receiver: the archiver's paced replay, or the C sender pacing one datagram at a time. */
async function pacedGapError(ar: ArchiverProcess | undefined, recordingId: number): Promise<{ medianNs: number; p99Ns: number }> {
  const rx = await startBareReceiver(RCVBUF, { recordTimes: true });
  try {
    if (ar) await runReplay(ar, recordingId, rx, 1);
    else await send(buildSender(), rx.port, PACED_EVENTS, SIZE, 1e9 / PACED_GAP_NS, 1, 1);
    await settledCount(rx, 300);
    return await rx.gapError(PACED_GAP_NS);
  } finally {
    await rx.stop();
  }
}

async function main(): Promise<void> {
  const dir = join(tempDir('replay'), 'archive');
  const ids = buildArchive(dir);
  const recordingId = ids.fast;
  const ar = await startArchiver(dir);
  const base: RunResult[] = [];
  const subj: RunResult[] = [];
  const show = (name: string, r: RunResult) =>
    `${name.padEnd(18)} received ${perSec(r.receivedRate)} sent ${perSec(r.sendRate)} loss ${pct(1 - r.received / EVENTS)}`;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['base', 'subj'] as const) : (['subj', 'base'] as const);
    for (const which of order) {
      if (which === 'base') {
        const r = await runBaseline();
        base.push(r);
        process.stdout.write(`round ${round + 1}: ${show('bare dgram sender', r)}\n`);
      } else {
        const r = await runReplay(ar, recordingId);
        subj.push(r);
        process.stdout.write(`round ${round + 1}: ${show('archiver replay', r)}\n`);
      }
    }
  }
  const pacedVcr = await pacedGapError(ar, ids.paced);
  const pacedBase = await pacedGapError(undefined, 0);
  process.stdout.write(`paced replay, ${PACED_EVENTS} events 1 ms apart: median gap error ${(pacedVcr.medianNs / 1e3).toFixed(1)} µs (p99 ${(pacedVcr.p99Ns / 1e3).toFixed(0)} µs); C sender ${(pacedBase.medianNs / 1e3).toFixed(1)} µs (p99 ${(pacedBase.p99Ns / 1e3).toFixed(0)} µs)\n`);
  await ar.stop();
  const best = (rs: RunResult[], k: 'receivedRate' | 'sendRate') => rs.reduce((a, r) => (r[k] > a[k] ? r : a));
  const bRecv = best(base, 'receivedRate');
  const sRecv = best(subj, 'receivedRate');
  const bSend = best(base, 'sendRate');
  const sSend = best(subj, 'sendRate');
  const group = `UDP replay at speed 0, ${SIZE} B events: sent`;
  record({
    bench: BENCH,
    figure: `replay speed 0, sent (${EVENTS.toLocaleString('en-US')} x ${SIZE} B)`,
    value: sSend.sendRate,
    unit: 'events/s',
    baseline: { name: 'bare dgram send loop', value: bSend.sendRate },
    targets: [{ op: '>=', value: TARGET, text: '>= 250,000 events/s (SPEC §4)' }],
  });
  record({
    bench: BENCH,
    figure: 'replay speed 0, received by a bare dgram receiver',
    value: sRecv.receivedRate,
    unit: 'events/s',
    baseline: { name: 'bare dgram send loop, received', value: bRecv.receivedRate },
    note: 'bounded by the receiving Node process, not by the replay',
  });
  record({
    bench: BENCH,
    figure: 'loss at the receiver (best run)',
    value: 100 * (1 - sRecv.received / EVENTS),
    unit: '%',
    baseline: { name: 'bare dgram send loop', value: 100 * (1 - bRecv.received / EVENTS) },
  });
  record({
    bench: BENCH,
    figure: `paced replay (speed 1, events 1 ms apart), median gap error`,
    value: pacedVcr.medianNs / 1e6,
    unit: 'ms',
    baseline: { name: 'C sender pacing one datagram per ms', value: pacedBase.medianNs / 1e6 },
    targets: [{ op: '<=', value: 1, text: '<= 1 ms median gap error (SPEC §4)' }],
    note: `p99: ${(pacedVcr.p99Ns / 1e6).toFixed(2)} ms (C sender ${(pacedBase.p99Ns / 1e6).toFixed(2)} ms)`,
  });
  bar({ group, system: 'VCR replay (speed 0)', value: sSend.sendRate, unit: 'events/s', vcr: true });
  bar({ group, system: 'bare dgram send loop', value: bSend.sendRate, unit: 'events/s' });
  printFigures(`UDP replay at speed 0: ${EVENTS.toLocaleString('en-US')} events of ${SIZE} B, ${ROUNDS} interleaved round(s), best round shown (${priority})`);
}

main().then(
  () => {
    cleanupNow();
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`${BENCH}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  },
);

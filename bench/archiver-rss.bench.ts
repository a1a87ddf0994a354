/**
 * Archiver memory while recording (SPEC §4: "Archiver RSS <= 250 MB while recording 10
 * channels at 100,000 events/s in total").
 *
 * The C sender (bench/udp/sender.c) sends 200-byte datagrams at 100,000/s in total, round
 * robin over 10 consecutive UDP ports, for ~20 s. Receivers, each on those 10 ports in turn:
 *  - baseline: the bare Node.js dgram receiver (10 sockets, counting only);
 *  - subject: a real archiver (`vcr archiver`) recording 10 channels udp://127.0.0.1:PORT+i,
 *    started through the client library.
 * /proc/PID/status is sampled every 200 ms: the figure is the peak VmRSS (VmHWM at the end),
 * with its anonymous (RssAnon: heap, buffers) and file-backed (RssFile: resident pages of the
 * memory-mapped segments, reclaimable page cache) parts at their peaks. Loss is reported too
 * (for the archiver from its counters). Rounds interleave baseline and subject; each figure is
 * the worst (highest) round. All processes run at nice -10 (--no-boost to keep the default).
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/archiver-rss.bench.js [--quick] [--seconds S] [--rounds N]
 */
import { join } from 'node:path';
import { freeUdpPortRange, memoryOf, startArchiver, type MemoryStatus } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';
import { buildSender, send, settledCount, sleep, startBareReceiver, type CountingReceiver } from './udp/harness.js';
import { argNumber, isQuick, note, printFigures, record } from './lib/results.js';
import { mb, perSec } from './udp/report.js';

const BENCH = 'archiver-rss';
const args = process.argv.slice(2);
const CHANNELS = 10;
const RATE = argNumber('--rate', 100_000);
const SECONDS = argNumber('--seconds', 20, 2);
const ROUNDS = argNumber('--rounds', 2, 1);
const SIZE = 200;
const RCVBUF = 8 * 1024 * 1024;
const TARGET = 250 * 1024 * 1024;

installCleanup(BENCH, isQuick() ? 40_000 : 175_000);
const priority = args.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

interface RunResult {
  peak: MemoryStatus;
  sent: number;
  received: number;
  achievedRate: number;
}

/** Sends the load to rx while sampling pid's memory; returns the peaks. */
async function load(sender: string, rx: CountingReceiver, pid: number): Promise<RunResult> {
  const peak: MemoryStatus = { rss: 0, hwm: 0, anon: 0, file: 0 };
  const sample = () => {
    const m = memoryOf(pid);
    if (!m) return;
    peak.rss = Math.max(peak.rss, m.rss);
    peak.hwm = Math.max(peak.hwm, m.hwm);
    peak.anon = Math.max(peak.anon, m.anon);
    peak.file = Math.max(peak.file, m.file);
  };
  const before = await rx.count();
  const timer = setInterval(sample, 200);
  try {
    const s = await send(sender, rx.port, RATE * SECONDS, SIZE, RATE, CHANNELS);
    const after = await settledCount(rx, 300);
    await sleep(200);
    sample();
    return { peak, sent: s.sent, received: after - before, achievedRate: s.sent / (s.elapsedNs / 1e9) };
  } finally {
    clearInterval(timer);
  }
}

async function runBaseline(sender: string, base: number): Promise<RunResult> {
  const rx = await startBareReceiver(RCVBUF, { port: base, nPorts: CHANNELS });
  try {
    return await load(sender, rx, rx.pid);
  } finally {
    await rx.stop();
  }
}

async function runArchiver(sender: string, base: number, round: number): Promise<RunResult> {
  const ar = await startArchiver(join(tempDir('rss'), 'archive'));
  try {
    for (let i = 0; i < CHANNELS; i++) await ar.client.startRecording({ channel: `bench.rss.${i}`, source: `udp://127.0.0.1:${base + i}` });
    const rx: CountingReceiver = { name: 'archiver', port: base, count: () => ar.counter('events'), stop: () => ar.stop() };
    const r = await load(sender, rx, ar.pid);
    const c = await ar.counters();
    if (round === 0) process.stdout.write(`archiver counters: events ${c.get('events')}, kernelDrops ${c.get('kernelDrops')}, queueDrops ${c.get('queueDrops')}\n`);
    return r;
  } finally {
    await ar.stop();
  }
}

async function main(): Promise<void> {
  const sender = buildSender();
  const base = await freeUdpPortRange(CHANNELS);
  const bare: RunResult[] = [];
  const subj: RunResult[] = [];
  const show = (r: RunResult) =>
    `peak VmRSS ${mb(r.peak.rss)} (VmHWM ${mb(r.peak.hwm)}, RssAnon ${mb(r.peak.anon)}, RssFile ${mb(r.peak.file)}), sent ${r.sent} at ${perSec(r.achievedRate)}, lost ${r.sent - r.received}`;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['base', 'subj'] as const) : (['subj', 'base'] as const);
    for (const which of order) {
      if (which === 'base') {
        const r = await runBaseline(sender, base);
        bare.push(r);
        process.stdout.write(`round ${round + 1}: bare receiver ${show(r)}\n`);
      } else {
        const r = await runArchiver(sender, base, round);
        subj.push(r);
        process.stdout.write(`round ${round + 1}: archiver      ${show(r)}\n`);
      }
    }
  }
  const worst = (rs: RunResult[], k: keyof MemoryStatus) => Math.max(...rs.map((r) => r.peak[k]));
  const lossOf = (rs: RunResult[]) => Math.max(...rs.map((r) => (r.sent - r.received) / r.sent));
  const peakOf = (rs: RunResult[]) => Math.max(worst(rs, 'hwm'), worst(rs, 'rss'));
  const MB = 1024 * 1024;
  record({
    bench: BENCH,
    figure: `archiver peak RSS (VmHWM), ${CHANNELS} channels at ${perSec(RATE)} in total, ${SECONDS} s`,
    value: peakOf(subj) / MB,
    unit: 'MB',
    baseline: { name: 'bare dgram receiver on the same ports', value: peakOf(bare) / MB },
    targets: [{ op: '<=', value: TARGET / MB, text: '<= 250 MB (SPEC §4)' }],
  });
  record({ bench: BENCH, figure: '  of which anonymous (RssAnon)', value: worst(subj, 'anon') / MB, unit: 'MB', baseline: { name: 'bare receiver', value: worst(bare, 'anon') / MB } });
  record({ bench: BENCH, figure: '  of which mapped files (RssFile)', value: worst(subj, 'file') / MB, unit: 'MB', baseline: { name: 'bare receiver', value: worst(bare, 'file') / MB } });
  record({ bench: BENCH, figure: 'loss while measuring (worst round)', value: 100 * lossOf(subj), unit: '%', baseline: { name: 'bare receiver', value: 100 * lossOf(bare) } });
  note(BENCH, `${ROUNDS} interleaved round(s), worst round shown; ${priority}. Loss does not decide this figure, but a run where the machine could not carry the load says less about RSS.`);
  printFigures(`Archiver RSS: ${CHANNELS} channels, ${perSec(RATE)} in total of ${SIZE} B for ${SECONDS} s (${mb(peakOf(subj))})`);
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

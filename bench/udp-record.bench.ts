/**
 * UDP record throughput (SPEC §4: "no loss at >= 90% of the highest rate at which a bare
 * Node.js dgram receiver in the same run loses nothing; compare with tcpdump -w").
 *
 * A separate C process (bench/udp/sender.c) sends 200-byte datagrams at a paced rate; for each
 * receiver the highest rate with zero loss is found by doubling from 20k/s until a rate fails,
 * then bisecting 4 times (each trial ~1 s; one lost datagram, or a sender that could not keep
 * the rate, fails it; a rate counts as passed only when it passes twice in a row, so one lucky
 * quiet second on the shared machine does not decide the figure). Receivers, all in their own processes:
 *  - baseline: a bare Node.js dgram receiver that only counts (same SO_RCVBUF request, 8 MiB);
 *  - subject: a real archiver (`vcr archiver`) recording udp://127.0.0.1:PORT, counted by its
 *    per-channel `events` counter read through the client library's stats();
 *  - reference: `tcpdump -w` capturing the same stream on lo (skipped with a note if unavailable).
 * The searches are interleaved (baseline, subject, ... then again in the other order) because
 * the machine is shared; the figure of each receiver is the best of its rounds, and each
 * round's rates are printed too. tcpdump, a reference only, is searched in the first round.
 * All processes run at nice -10 (inherited; --no-boost to keep the default) to be less at the
 * mercy of the neighbours' builds on the shared machine.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/udp-record.bench.js [--rounds N] [--no-tcpdump]
 */
import { join } from 'node:path';
import { archiverReceiver, freeUdpPort, startArchiver } from './udp/archiver-process.js';
import { boostPriority, installCleanup, tempDir, cleanupNow } from './udp/cleanup.js';
import { buildSender, maxZeroLossRate, startBareReceiver, type CountingReceiver, type TrialResult } from './udp/harness.js';
import { perSec, pct, printTable, type Row } from './udp/report.js';
import { startTcpdumpReceiver, tcpdumpUnavailable } from './udp/tcpdump-receiver.js';

const SIZE = 200;
const RCVBUF = 8 * 1024 * 1024;
const TARGET_RATIO = 0.9;
const args = process.argv.slice(2);
const argValue = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = argValue('--rounds', 2);
const TRIAL_SECONDS = argValue('--seconds', 1);
const SEARCH = { start: argValue('--start-rate', 20_000), max: argValue('--max-rate', 2_000_000), steps: argValue('--steps', 4), confirm: argValue('--confirm', 2) };
const TCPDUMP_ROUNDS = argValue('--tcpdump-rounds', 1);
const verbose = args.includes('--verbose');

installCleanup('udp-record', 175_000);
const priority = args.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

async function main(): Promise<void> {
  const sender = buildSender();
  const dir = tempDir('record');
  const bare = await startBareReceiver(RCVBUF);
  const archiver = await startArchiver(join(dir, 'archive'));
  const channel = 'bench.udp';
  const subject = await archiverReceiver(archiver, channel, await freeUdpPort());
  const receivers: CountingReceiver[] = [bare, subject];
  let tcpdumpNote = args.includes('--no-tcpdump') ? 'tcpdump skipped (--no-tcpdump)' : tcpdumpUnavailable();
  if (tcpdumpNote === undefined) {
    try {
      receivers.push(await startTcpdumpReceiver(dir, await freeUdpPort(), RCVBUF / 1024));
    } catch (err) {
      tcpdumpNote = `tcpdump cannot capture on lo here: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  if (tcpdumpNote) process.stdout.write(`note: ${tcpdumpNote}\n`);

  const results = new Map<string, number[]>(receivers.map((r) => [r.name, []]));
  const log = (name: string) => (t: TrialResult) => {
    if (verbose) process.stderr.write(`  ${name}: rate ${t.rate} sent ${t.sent} received ${t.received} lost ${t.lost} achieved ${Math.round(t.achievedRate)}\n`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const inRound = receivers.filter((r) => r.name !== 'tcpdump -w' || round < TCPDUMP_ROUNDS);
    const order = round % 2 === 0 ? inRound : [...inRound].reverse();
    for (const rx of order) {
      const best = await maxZeroLossRate(rx, sender, { ...SEARCH, seconds: TRIAL_SECONDS, size: SIZE, log: log(rx.name) });
      results.get(rx.name)!.push(best);
      process.stdout.write(`round ${round + 1}: ${rx.name.padEnd(20)} zero-loss rate ${perSec(best)}\n`);
    }
  }
  const counters = await archiver.counters();
  process.stdout.write(
    `archiver counters for ${channel}: events ${counters.get(`channel.${channel}.events`)}, kernelDrops ${counters.get(`channel.${channel}.kernelDrops`)}, queueDrops ${counters.get(`channel.${channel}.queueDrops`)}\n`,
  );

  const best = (name: string) => Math.max(...results.get(name)!);
  const base = best(bare.name);
  const rows: Row[] = [
    {
      figure: 'archiver zero-loss rate (200 B)',
      value: perSec(best(subject.name)),
      baseline: `${perSec(base)} bare dgram`,
      ratio: base > 0 ? pct(best(subject.name) / base) : 'n/a',
      target: `>= ${pct(TARGET_RATIO)}`,
      met: base > 0 && best(subject.name) >= TARGET_RATIO * base,
    },
  ];
  const td = receivers.find((r) => r.name === 'tcpdump -w');
  if (td) {
    rows.push({
      figure: 'tcpdump -w zero-loss rate (200 B)',
      value: perSec(best(td.name)),
      baseline: `${perSec(base)} bare dgram`,
      ratio: base > 0 ? pct(best(td.name) / base) : 'n/a',
      target: 'reference',
      met: undefined,
    });
    rows.push({
      figure: 'archiver vs tcpdump -w',
      value: perSec(best(subject.name)),
      baseline: `${perSec(best(td.name))} tcpdump`,
      ratio: best(td.name) > 0 ? pct(best(subject.name) / best(td.name)) : 'n/a',
      target: 'reference',
      met: undefined,
    });
  }
  printTable(`UDP record, ${SIZE}-byte datagrams, ${ROUNDS} interleaved rounds of ramp + bisection (${SEARCH.steps} steps, rates confirmed ${SEARCH.confirm}x, ${TRIAL_SECONDS} s trials, ${priority}); per round: ${[...results].map(([n, v]) => `${n} ${v.map((x) => Math.round(x / 1000) + 'k').join('/')}`).join('; ')}`, rows);
  for (const rx of receivers) await rx.stop();
}

main().then(
  () => {
    cleanupNow();
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`udp-record: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  },
);

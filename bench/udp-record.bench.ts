/**
 * UDP record throughput (SPEC §4: "no loss up to the rate the load generator itself reaches
 * (a C sendmmsg sender); at least 2x the lossless rate of a bare Node.js dgram receiver;
 * compare with tcpdump -w on the same stream").
 *
 * A separate C process (bench/udp/sender.c) sends 200-byte datagrams. Receivers, each in its
 * own process and never two at once:
 *  - baseline: a bare Node.js dgram receiver that only counts (same SO_RCVBUF request, 8 MiB);
 *  - subject: a real archiver (`vcr archiver`) recording udp://127.0.0.1:PORT, counted by its
 *    per-channel `events` counter read through the client library's stats();
 *  - reference: `tcpdump -w` capturing the same stream on lo (skipped with a note if unavailable).
 * Figures:
 *  1. the C sender's own rate, unpaced (the load generator's limit on this machine);
 *  2. each receiver's zero-loss rate: paced trials doubling from 20k/s until a rate fails (or
 *     the generator's limit is reached), then bisecting (each trial ~1 s; one lost datagram,
 *     or a sender that could not keep the rate, fails it; a rate passes only when it passes
 *     --confirm times in a row). Interleaved rounds (baseline, subject, ... then reversed);
 *     a receiver's figure is its best round;
 *  3. loss of the archiver and of the bare receiver under one unpaced burst at the
 *     generator's full rate (SPEC: no loss up to that rate).
 * All processes run at nice -10 (inherited; --no-boost to keep the default).
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/udp-record.bench.js [--quick] [--rounds N] [--no-tcpdump]
 */
import { join } from 'node:path';
import { argNumber, bar, isQuick, note, printFigures, record } from './lib/results.js';
import { archiverReceiver, freeUdpPort, startArchiver } from './udp/archiver-process.js';
import { boostPriority, installCleanup, tempDir, cleanupNow } from './udp/cleanup.js';
import { blast, buildSender, maxZeroLossRate, startBareReceiver, type CountingReceiver, type TrialResult } from './udp/harness.js';
import { perSec } from './udp/report.js';
import { startTcpdumpReceiver, tcpdumpUnavailable } from './udp/tcpdump-receiver.js';

const BENCH = 'udp-record';
const SIZE = 200;
const RCVBUF = 8 * 1024 * 1024;
const TARGET_RATIO = 2;
const args = process.argv.slice(2);
const ROUNDS = argNumber('--rounds', 2, 1);
const TRIAL_SECONDS = argNumber('--seconds', 1, 0.3);
// quick: the ramp starts higher and bisects once (fewer trials per receiver, same search)
const SEARCH = { start: argNumber('--start-rate', 20_000, 40_000), steps: argNumber('--steps', 4, 1), confirm: argNumber('--confirm', 2, 1) };
const TCPDUMP_ROUNDS = argNumber('--tcpdump-rounds', 1);
const BLAST = argNumber('--blast', 1_000_000, 100_000);
const verbose = args.includes('--verbose');

installCleanup(BENCH, isQuick() ? 55_000 : 300_000);
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

  // the generator's own limit, and every receiver under one unpaced burst at that limit
  const bursts = new Map<string, TrialResult>();
  for (const rx of [bare, subject]) {
    const t = await blast(rx, sender, BLAST, SIZE);
    log(`${rx.name} burst`)(t);
    bursts.set(rx.name, t);
    process.stdout.write(`burst of ${BLAST} at full speed (${perSec(t.achievedRate)}): ${rx.name.padEnd(20)} lost ${t.lost}\n`);
  }
  const senderRate = Math.max(...[...bursts.values()].map((t) => t.achievedRate));
  const max = Math.max(SEARCH.start, Math.floor((senderRate * 0.9) / 1000) * 1000);

  for (let round = 0; round < ROUNDS; round++) {
    const inRound = receivers.filter((r) => r.name !== 'tcpdump -w' || round < TCPDUMP_ROUNDS);
    const order = round % 2 === 0 ? inRound : [...inRound].reverse();
    for (const rx of order) {
      const best = await maxZeroLossRate(rx, sender, { ...SEARCH, max, seconds: TRIAL_SECONDS, size: SIZE, log: log(rx.name) });
      results.get(rx.name)!.push(best);
      process.stdout.write(`round ${round + 1}: ${rx.name.padEnd(20)} zero-loss rate ${perSec(best)}${best >= max ? ' (the search cap)' : ''}\n`);
    }
  }
  const counters = await archiver.counters();
  process.stdout.write(
    `archiver counters for ${channel}: events ${counters.get(`channel.${channel}.events`)}, kernelDrops ${counters.get(`channel.${channel}.kernelDrops`)}, queueDrops ${counters.get(`channel.${channel}.queueDrops`)}\n`,
  );

  const best = (name: string) => Math.max(...results.get(name)!);
  const base = best(bare.name);
  const group = `UDP record, ${SIZE} B datagrams: zero-loss rate`;
  record({
    bench: BENCH,
    figure: `C sendmmsg sender, unpaced (load generator limit), ${SIZE} B`,
    value: senderRate,
    unit: 'events/s',
    note: 'the most load this machine generates; zero-loss searches stop at 90% of it',
  });
  record({
    bench: BENCH,
    figure: `archiver zero-loss rate, ${SIZE} B`,
    value: best(subject.name),
    unit: 'events/s',
    baseline: { name: 'bare dgram receiver zero-loss rate', value: base },
    targets: [{ op: '>=', value: TARGET_RATIO, of: 'ratio', text: '>= 2x bare dgram receiver (SPEC §4)' }],
    note: `best of ${ROUNDS} round(s): ${results.get(subject.name)!.map(perSec).join(', ')}; bare ${results.get(bare.name)!.map(perSec).join(', ')}; search cap ${perSec(max)}`,
  });
  const aBurst = bursts.get(subject.name)!;
  const bBurst = bursts.get(bare.name)!;
  record({
    bench: BENCH,
    figure: `archiver loss in a burst at the generator's full rate (${BLAST.toLocaleString('en-US')} x ${SIZE} B at ${perSec(aBurst.achievedRate)})`,
    value: (100 * aBurst.lost) / aBurst.sent,
    unit: '%',
    baseline: { name: 'bare dgram receiver, same burst', value: (100 * bBurst.lost) / bBurst.sent },
    targets: [{ op: '<=', value: 0, text: 'no loss up to the generator\'s rate (SPEC §4)' }],
  });
  bar({ group, system: 'VCR archiver', value: best(subject.name), unit: 'events/s', vcr: true });
  bar({ group, system: 'bare dgram receiver', value: base, unit: 'events/s' });
  const td = receivers.find((r) => r.name === 'tcpdump -w');
  if (td) {
    record({ bench: BENCH, figure: `tcpdump -w zero-loss rate, ${SIZE} B`, value: best(td.name), unit: 'events/s', baseline: { name: 'bare dgram receiver', value: base } });
    record({ bench: BENCH, figure: 'archiver vs tcpdump -w (zero-loss rates)', value: best(subject.name), unit: 'events/s', baseline: { name: 'tcpdump -w', value: best(td.name) } });
    bar({ group, system: 'tcpdump -w', value: best(td.name), unit: 'events/s' });
  } else {
    record({ bench: BENCH, figure: `tcpdump -w zero-loss rate, ${SIZE} B`, value: null, unit: 'events/s', why: tcpdumpNote ?? 'unavailable' });
    bar({ group, system: 'tcpdump -w', value: null, unit: 'events/s' });
  }
  bar({ group, system: 'C sender limit (unpaced)', value: senderRate, unit: 'events/s' });
  note(BENCH, `trials: ${TRIAL_SECONDS} s, ${SEARCH.steps} bisection steps, each rate confirmed ${SEARCH.confirm}x; ${priority}; native UDP path ${process.env.VCR_UDP_NATIVE === '0' ? 'off (VCR_UDP_NATIVE=0)' : 'on when built'}`);
  printFigures(`UDP record, ${SIZE}-byte datagrams`);
  for (const rx of receivers) await rx.stop();
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

/**
 * Scaling curve: merged replay throughput against the number of channels merged (issue 9
 * point 5). The same total of events (500,000 x 200 B in full mode) is dealt round robin
 * over 1, 4 and 16 channels (one recording each, UTC times interleaved, so every read is a
 * real k-way merge), written in-process through src/storage and served by a real archiver.
 * Subject: a client process reading all N channels over the interval with
 * `ArchiveClient.events()` (merged in timestamp order; the reader checks the order).
 * Baseline: the storage engine's own merge, in-process (`Archive.openMergedReader`, the
 * archive opened read-only beside the running archiver), over the same recordings.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/scale-merged-replay.bench.js [--quick] [--events N] [--rounds N]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Archive } from '../src/storage/archive.js';
import { anHourAgoNs, buildFixture, type Fixture } from './lib/archive-fixture.js';
import { runJsonChild } from './lib/child-process.js';
import { argNumber, bar, isQuick, note, point, printFigures, record } from './lib/results.js';
import { startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';

const BENCH = 'scale-merged-replay';
const here = dirname(fileURLToPath(import.meta.url));
const quick = isQuick();
const EVENTS = argNumber('--events', 500_000, 16_000);
const ROUNDS = argNumber('--rounds', 2, 1);
const WIDTHS = [1, 4, 16];
const SIZE = 200;

installCleanup(BENCH, quick ? 45_000 : 400_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

function inProcessMerge(dir: string, f: Fixture): number {
  const archive = Archive.open(dir, { readOnly: true });
  try {
    const t0 = process.hrtime.bigint();
    const r = archive.openMergedReader(f.recordingIds.map((recordingId) => ({ recordingId })), f.fromUtcNs, f.toUtcNs);
    let n = 0;
    let last = -1n;
    const h = (_id: number, _b: Buffer, _o: number, _l: number, _p: number, utc: bigint): void => {
      if (utc < last) throw new Error('the in-process merge is out of order');
      last = utc;
      n++;
    };
    while (!r.isDone()) r.poll(h, 10_000);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (n !== EVENTS) throw new Error(`the in-process merge read ${n} of ${EVENTS} events`);
    return n / s;
  } finally {
    archive.close();
  }
}

async function main(): Promise<void> {
  const dir = join(tempDir('merged'), 'archive');
  const utc0 = anHourAgoNs();
  const fixtures = new Map<number, Fixture>();
  for (const w of WIDTHS) {
    const channels = Array.from({ length: w }, (_, i) => `bench.merge${w}.${i}`);
    fixtures.set(w, buildFixture(dir, { channels, count: EVENTS, size: SIZE, utc0Ns: utc0, stepNs: 1000n }));
  }
  const ar = await startArchiver(dir);
  const client = new Map<number, number>();
  const local = new Map<number, number>();
  const retries = new Map<number, number>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const w of round % 2 === 0 ? WIDTHS : [...WIDTHS].reverse()) {
        const f = fixtures.get(w)!;
        const args = ['--archiver', `127.0.0.1:${ar.controlPort}`, '--from', String(f.fromUtcNs), '--to', String(f.toUtcNs)];
        for (let i = 0; i < w; i++) args.push('--channel', `bench.merge${w}.${i}`);
        const r = await runJsonChild<{ events: number; seconds: number; ordered: boolean; retries: number | null }>(join(here, 'client/vcr-reader.js'), args);
        if (r.retries !== null) retries.set(w, (retries.get(w) ?? 0) + r.retries);
        if (r.events !== EVENTS) throw new Error(`events() over ${w} channels read ${r.events} of ${EVENTS}`);
        if (!r.ordered) throw new Error(`events() over ${w} channels was not in timestamp order`);
        const rate = r.events / r.seconds;
        client.set(w, Math.max(client.get(w) ?? 0, rate));
        const lr = inProcessMerge(dir, f);
        local.set(w, Math.max(local.get(w) ?? 0, lr));
        process.stdout.write(`  ${String(w).padStart(2)} channels: events() ${Math.round(rate).toLocaleString('en-US')} events/s; in-process merge ${Math.round(lr).toLocaleString('en-US')} events/s\n`);
      }
    }
  } finally {
    await ar.stop();
  }
  const curve = 'Merged replay throughput vs channels merged';
  for (const w of WIDTHS) {
    point({ curve, series: 'ArchiveClient.events() into a client process', x: w, xLabel: 'channels merged', y: client.get(w)!, yLabel: 'events/s', logX: true });
    point({ curve, series: 'storage MergedReader in-process (baseline)', x: w, xLabel: 'channels merged', y: local.get(w)!, yLabel: 'events/s', logX: true });
  }
  const wMax = WIDTHS[WIDTHS.length - 1]!;
  const label = `${EVENTS.toLocaleString('en-US')} x ${SIZE} B`;
  record({ bench: BENCH, figure: `events() merging ${wMax} channels, ${label}`, value: client.get(wMax)!, unit: 'events/s', baseline: { name: 'events() on 1 channel, same events', value: client.get(1)! } });
  record({ bench: BENCH, figure: `events() merging ${wMax} channels vs the storage merge`, value: client.get(wMax)!, unit: 'events/s', baseline: { name: `in-process MergedReader, ${wMax} channels`, value: local.get(wMax)! } });
  record({ bench: BENCH, figure: `  in-process MergedReader, ${wMax} channels`, value: local.get(wMax)!, unit: 'events/s', baseline: { name: 'in-process, 1 channel', value: local.get(1)! } });
  const group = `merged read of ${wMax} channels, ${label}`;
  bar({ group, system: 'VCR events() (client process)', value: client.get(wMax)!, unit: 'events/s', vcr: true });
  bar({ group, system: 'VCR storage merge in-process', value: local.get(wMax)!, unit: 'events/s' });
  if (retries.size > 0) note(BENCH, `request retries of the client (lost control datagrams), over all rounds: ${WIDTHS.map((w) => `${w} channel(s) ${retries.get(w) ?? 0}`).join(', ')}`);
  note(BENCH, `same ${label} in every case, dealt round robin; best of ${ROUNDS} round(s); ${priority}`);
  printFigures('scaling: merged replay');
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

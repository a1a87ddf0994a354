/**
 * `vcr events --json` as a user runs it, printing to /dev/null (issue 9: it should be
 * limited by JSON formatting alone), against a plain loop that builds and `JSON.stringify`s
 * the same records and writes them to /dev/null (bench/client/json-baseline.ts). Both are
 * timed from process spawn to exit, so both pay Node's start-up. For reference the same
 * events are also read raw with `ArchiveClient.events()` in a client process.
 * The events (1,000,000 x 200 B in full mode) are written in-process through src/storage and
 * served by a real archiver. Rounds interleave the three; each figure is its best round.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/events-json.bench.js [--quick] [--events N] [--rounds N]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anHourAgoNs, buildFixture } from './lib/archive-fixture.js';
import { runJsonChild, timedRun } from './lib/child-process.js';
import { argNumber, bar, isQuick, note, printFigures, record } from './lib/results.js';
import { archiverBin, startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';

const BENCH = 'events-json';
const here = dirname(fileURLToPath(import.meta.url));
const quick = isQuick();
const COUNT = argNumber('--events', 1_000_000, 30_000);
const SIZE = 200;
const ROUNDS = argNumber('--rounds', 2, 1);
const CHANNEL = 'bench.json';

installCleanup(BENCH, quick ? 45_000 : 400_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

async function main(): Promise<void> {
  const dir = join(tempDir('events-json'), 'archive');
  const f = buildFixture(dir, { channels: [CHANNEL], count: COUNT, size: SIZE, utc0Ns: anHourAgoNs(), stepNs: 1000n });
  const ar = await startArchiver(dir);
  const endpoint = `127.0.0.1:${ar.controlPort}`;
  const cli: number[] = [];
  const base: number[] = [];
  const raw: number[] = [];
  const steps = [
    async () => {
      const r = await timedRun(process.execPath, [archiverBin(), 'events', '--archiver', endpoint, '--channel', CHANNEL, '--from', String(f.fromUtcNs), '--to', String(f.toUtcNs), '--json'], { stdout: 'devnull', timeoutMs: 600_000 });
      if (r.exitCode !== 0) throw new Error(`vcr events failed (exit ${r.exitCode}): ${r.stderr}`);
      cli.push(COUNT / r.seconds);
      process.stdout.write(`  vcr events --json > /dev/null: ${r.seconds.toFixed(2)} s, ${Math.round(COUNT / r.seconds).toLocaleString('en-US')} events/s\n`);
    },
    async () => {
      const r = await timedRun(process.execPath, [join(here, 'client/json-baseline.js'), String(COUNT), String(SIZE), CHANNEL, String(f.recordingIds[0]), String(f.fromUtcNs), '1000'], { stdout: 'devnull' });
      if (r.exitCode !== 0) throw new Error(`json-baseline failed (exit ${r.exitCode}): ${r.stderr}`);
      base.push(COUNT / r.seconds);
      process.stdout.write(`  JSON.stringify loop > /dev/null: ${r.seconds.toFixed(2)} s, ${Math.round(COUNT / r.seconds).toLocaleString('en-US')} events/s\n`);
    },
    async () => {
      const r = await runJsonChild<{ events: number; seconds: number }>(join(here, 'client/vcr-reader.js'), ['--archiver', endpoint, '--channel', CHANNEL, '--from', String(f.fromUtcNs), '--to', String(f.toUtcNs)]);
      raw.push(r.events / r.seconds);
      process.stdout.write(`  events() raw: ${Math.round(r.events / r.seconds).toLocaleString('en-US')} events/s\n`);
    },
  ];
  for (let round = 0; round < ROUNDS; round++) for (const s of round % 2 === 0 ? steps : [...steps].reverse()) await s();
  await ar.stop();

  const best = (xs: number[]) => Math.max(...xs);
  record({
    bench: BENCH,
    figure: `vcr events --json > /dev/null, ${COUNT.toLocaleString('en-US')} x ${SIZE} B`,
    value: best(cli),
    unit: 'events/s',
    baseline: { name: 'JSON.stringify loop of the same records > /dev/null', value: best(base) },
    note: 'issue 9: should be limited by JSON formatting alone (ratio near 1); no SPEC §4 number',
  });
  record({ bench: BENCH, figure: '  events() raw read of the same events (client process)', value: best(raw), unit: 'events/s', baseline: { name: 'JSON.stringify loop', value: best(base) } });
  const group = `vcr events --json > /dev/null, ${SIZE} B events`;
  bar({ group, system: 'VCR vcr events --json', value: best(cli), unit: 'events/s', vcr: true });
  bar({ group, system: 'JSON.stringify loop (same records)', value: best(base), unit: 'events/s' });
  note(BENCH, `both timed from spawn to exit (Node start-up included on both sides); best of ${ROUNDS} interleaved round(s); ${priority}`);
  printFigures('vcr events --json');
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

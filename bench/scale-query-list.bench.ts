/**
 * Scaling curve: what the number of recordings costs (issue 9 point 5). One archive grows
 * to 1k, 10k and 100k recordings (1k and 5k in quick mode: the archiver's start-up on 10k
 * recordings alone took ~21 s of the quick run's 2-minute budget; each recording one 200-byte
 * event, 64 KiB segments, written by bench/lib/many-recordings.ts); at each size:
 *  - `vcr query list --json` (every recording, to a counted pipe), timed from spawn to exit,
 *    against the same command on an empty archive (the command's fixed cost);
 *  - the archiver's start-up on that directory (spawn to its "archiver started" line)
 *    against start-up on an empty one, and its RSS after start-up;
 *  - the archive on disk: bytes allocated, of which the catalog (4 KiB a descriptor), and
 *    the number of files.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/scale-query-list.bench.js [--quick] [--sizes 1000,10000]
 */
import { readdirSync, statSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runJsonChild, timedRun } from './lib/child-process.js';
import { isQuick, note, point, printFigures, record } from './lib/results.js';
import { archiverBin, memoryOf, startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';

const BENCH = 'scale-query-list';
const here = dirname(fileURLToPath(import.meta.url));
const quick = isQuick();
const sizesArg = process.argv.indexOf('--sizes');
const SIZES = sizesArg >= 0 ? process.argv[sizesArg + 1]!.split(',').map(Number) : quick ? [1_000, 5_000] : [1_000, 10_000, 100_000];
const ROUNDS = quick ? 1 : 2;
const MB = 1e6;

installCleanup(BENCH, quick ? 100_000 : 2_700_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

interface Disk {
  files: number;
  allocated: number;
  catalog: number;
}

function diskOf(dir: string): Disk {
  let files = 0;
  let allocated = 0;
  let catalog = 0;
  for (const f of readdirSync(dir)) {
    const s = statSync(join(dir, f));
    if (!s.isFile()) continue;
    files++;
    allocated += s.blocks * 512;
    if (f === 'catalog.dat') catalog = s.size;
  }
  return { files, allocated, catalog };
}

interface Measured {
  startupS: number;
  rssMB: number;
  /** null: the listing did not finish within LIST_LIMIT_MS (why says so) */
  listS: number | null;
  why?: string;
}

const LIST_LIMIT_MS = quick ? 60_000 : 1_500_000;

async function measure(dir: string, expect: number): Promise<Measured> {
  const t0 = process.hrtime.bigint();
  const ar = await startArchiver(dir, { startTimeoutMs: 600_000 });
  const startupS = Number(process.hrtime.bigint() - t0) / 1e9;
  const rssMB = (memoryOf(ar.pid)?.rss ?? NaN) / MB;
  let listS: number | null = Infinity;
  let why: string | undefined;
  try {
    // one round at 100k: it takes minutes (see the note on paging)
    for (let r = 0; r < (expect >= 100_000 ? 1 : ROUNDS); r++) {
      const run = await timedRun(process.execPath, [archiverBin(), 'query', 'list', '--json', '--archiver', `127.0.0.1:${ar.controlPort}`], { stdout: 'count', timeoutMs: LIST_LIMIT_MS }).catch(
        (err: Error) => err,
      );
      if (run instanceof Error) {
        listS = null;
        why = `vcr query list did not finish within ${LIST_LIMIT_MS / 1000} s`;
        break;
      }
      if (run.exitCode !== 0) throw new Error(`vcr query list failed (exit ${run.exitCode}): ${run.stderr}`);
      if (run.lines !== expect) throw new Error(`vcr query list printed ${run.lines} recordings, expected ${expect}`);
      listS = Math.min(listS, run.seconds);
    }
  } finally {
    await ar.stop();
  }
  process.stdout.write(`  ${expect.toLocaleString('en-US')} recordings: start-up ${startupS.toFixed(2)} s, RSS ${rssMB.toFixed(0)} MB, query list ${listS === null ? why : `${listS.toFixed(2)} s`}\n`);
  return { startupS, rssMB, listS, why };
}

/**
 * Quick runs build their fixture on tmpfs when there is room: creating files costs ~3.5 ms
 * each on this VM's disk (10k recordings: a minute), and the smoke run has two minutes.
 */
function fixtureBase(): { base: string | undefined; where: string } {
  if (!quick) return { base: undefined, where: 'on disk (the system temp dir)' };
  try {
    const s = statfsSync('/dev/shm');
    if (s.bavail * s.bsize > 4 * 2 ** 30) return { base: '/dev/shm', where: 'on tmpfs (/dev/shm), quick run' };
  } catch {
    // no /dev/shm
  }
  return { base: undefined, where: 'on disk (the system temp dir)' };
}

async function main(): Promise<void> {
  const empty = await measure(join(tempDir('ql-empty'), 'archive'), 0);
  const { base, where } = fixtureBase();
  const dir = join(tempDir('ql', base), 'archive');
  let have = 0;
  const sizes: { n: number; m: Measured; d: Disk }[] = [];
  let last: { n: number; m: Measured; d: Disk } | undefined;
  let first: { n: number; m: Measured; d: Disk } | undefined;
  for (const n of SIZES) {
    const made = await runJsonChild<{ seconds: number }>(join(here, 'lib/many-recordings.js'), [dir, String(n - have)], 3_600_000, ['--expose-gc']);
    process.stdout.write(`created ${(n - have).toLocaleString('en-US')} recordings in ${made.seconds.toFixed(1)} s (now ${n.toLocaleString('en-US')})\n`);
    have = n;
    const d = diskOf(dir);
    const m = await measure(dir, n);
    const x = { xLabel: 'recordings in the archive', logX: true };
    if (m.listS !== null) point({ curve: 'vcr query list and archiver start-up vs recordings', series: 'vcr query list --json (s)', x: n, y: m.listS, yLabel: 'seconds', ...x });
    point({ curve: 'vcr query list and archiver start-up vs recordings', series: 'archiver start-up (s)', x: n, y: m.startupS, yLabel: 'seconds', ...x });
    point({ curve: 'Archive on disk vs recordings', series: 'allocated on disk (MB)', x: n, y: d.allocated / MB, yLabel: 'MB', ...x });
    point({ curve: 'Archive on disk vs recordings', series: 'catalog.dat (MB)', x: n, y: d.catalog / MB, yLabel: 'MB', ...x });
    point({ curve: 'Archiver RSS after start-up vs recordings', series: 'archiver RSS (MB)', x: n, y: m.rssMB, yLabel: 'MB', ...x });
    last = { n, m, d };
    sizes.push(last);
    first ??= last;
  }
  if (!last || !first) return;
  const label = `${last.n.toLocaleString('en-US')} recordings`;
  record({ bench: BENCH, figure: `vcr query list --json, ${label}`, value: last.m.listS, unit: 's', baseline: { name: 'same command, empty archive', value: empty.listS }, why: last.m.why });
  const listed = [...sizes].filter((s) => s.m.listS !== null);
  if (listed.length > 0) {
    const perRecUs = listed.map((s) => `${s.n.toLocaleString('en-US')}: ${((((s.m.listS ?? 0) - (empty.listS ?? 0)) / s.n) * 1e6).toFixed(0)} µs`);
    note(
      BENCH,
      `query list per recording (above the empty-archive cost) ${perRecUs.join(', ')}. It grows with the archive because every page of 100 makes the archiver build all N descriptors (Archive.listRecordings sorts and copies every entry, then filterRecordings skips to fromRecordingId): N/100 pages x N descriptors, quadratic. Paging from fromRecordingId by dead reckoning (ids are dense) would make each page cost 100 descriptors.`,
    );
  }
  record({ bench: BENCH, figure: `archiver start-up, ${label}`, value: last.m.startupS, unit: 's', baseline: { name: 'start-up on an empty archive', value: empty.startupS } });
  record({ bench: BENCH, figure: `archiver RSS after start-up, ${label}`, value: last.m.rssMB, unit: 'MB', baseline: { name: 'empty archive', value: empty.rssMB } });
  record({ bench: BENCH, figure: `archive on disk, ${label} (64 KiB segments)`, value: last.d.allocated / MB, unit: 'MB', baseline: { name: 'of which catalog.dat', value: last.d.catalog / MB } });
  const growth = (a: number, b: number) => (b > 0 ? (a / b).toFixed(1) : 'n/a');
  note(
    BENCH,
    `from ${first.n.toLocaleString('en-US')} to ${last.n.toLocaleString('en-US')} recordings (x${last.n / first.n}): start-up x${growth(last.m.startupS - empty.startupS, first.m.startupS - empty.startupS)} above the empty-archive cost; ` +
      `archiver RSS after start-up ${(((last.m.rssMB - empty.rssMB) * 1e6) / last.n / 1024).toFixed(1)} KiB a recording (${last.m.rssMB.toFixed(0)} MB at ${last.n.toLocaleString('en-US')}).`,
  );
  note(
    BENCH,
    `disk per recording: ${((last.d.allocated / last.n) / 1024).toFixed(1)} KiB allocated in ${(last.d.files / last.n).toFixed(1)} files: 4 KiB catalog descriptor (${(last.d.catalog / MB).toFixed(0)} MB for ${last.n.toLocaleString('en-US')}), ` +
      `a 4 KiB .meta, a time index, and the last segment preallocated whole (64 KiB here, the smallest allowed). At the default 64 MiB segment length a recording that holds one event still allocates 64 MiB: ` +
      `${last.n.toLocaleString('en-US')} such recordings would need ${((last.n * 64) / 1024 / 1024).toFixed(1)} TiB.`,
  );
  note(BENCH, `fixture ${where}: one 200-byte event per recording, 100 channel names; ${ROUNDS} query-list round(s) per size below 100k (1 at 100k), best shown; page cache warm (the files were just written); ${priority}`);
  printFigures('scaling: number of recordings');
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

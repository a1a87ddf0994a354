/**
 * File ingest end to end (SPEC §4: "File record: >= 1,000,000 events/s end to end for
 * 100-byte lines"), as a user sees it: a file of 100-byte lines (2,000,000 in full mode,
 * 200 MB, in page cache) is recorded by a real archiver, timed from the spawn of
 * `vcr record start --source file:///PATH` until the recording stops at the end of the file
 * (its recordingStopped notification, or its state seen stopped, whichever comes first).
 * Baseline: a plain Node process that reads the same file and splits the lines
 * (bench/client/line-split-baseline.ts), also timed from spawn to exit.
 * Second figure, without process start-ups and the control round trips: the archiver's own
 * span, from the first to the last event's recorded UTC time, against the baseline's loop.
 * Rounds interleave the two; each figure is its best round. Each VCR round also prints where
 * its time went: the CLI's run, spawn to the recording's start, the archiver span, stop to heard.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/file-ingest.bench.js [--quick] [--lines N] [--rounds N]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotificationKind, type Notification } from '../src/client/index.js';
import { runJsonChild, timedRun } from './lib/child-process.js';
import { argNumber, bar, isQuick, note, printFigures, record } from './lib/results.js';
import { archiverBin, startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';
import { sleep } from './udp/harness.js';

const BENCH = 'file-ingest';
const here = dirname(fileURLToPath(import.meta.url));
const quick = isQuick();
const LINES = argNumber('--lines', 2_000_000, 200_000);
const LINE = 100;
const ROUNDS = argNumber('--rounds', 2, 1);
const TARGET = 1_000_000;

installCleanup(BENCH, quick ? 45_000 : 300_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

function writeLines(path: string, count: number): void {
  const block = 10_000;
  const buf = Buffer.alloc(block * LINE);
  const parts: Buffer[] = [];
  for (let done = 0; done < count; done += block) {
    const n = Math.min(block, count - done);
    for (let i = 0; i < n; i++) {
      const off = i * LINE;
      buf.write(`event ${done + i} `.padEnd(LINE - 1, 'x'), off, 'latin1');
      buf[off + LINE - 1] = 0x0a;
    }
    parts.push(Buffer.from(buf.subarray(0, n * LINE)));
  }
  writeFileSync(path, Buffer.concat(parts));
}

async function main(): Promise<void> {
  const dir = tempDir('file-ingest');
  const path = join(dir, 'lines.log');
  writeLines(path, LINES);
  const ar = await startArchiver(join(dir, 'archive'));
  const endpoint = `127.0.0.1:${ar.controlPort}`;
  const stopped = new Map<number, { atNs: bigint; n: Extract<Notification, { type: 'recordingStopped' }> }>();
  const started = new Map<number, bigint>();
  const unsubscribe = await ar.client.subscribe(NotificationKind.recording, (n) => {
    if (n.type === 'recordingStopped') stopped.set(n.recordingId, { atNs: process.hrtime.bigint(), n });
    if (n.type === 'recordingStarted') started.set(n.recordingId, n.startUtcNs);
  });
  const endToEnd: number[] = [];
  const archiverSide: number[] = [];
  const baseEnd: number[] = [];
  const baseLoop: number[] = [];
  let round = 0;
  const vcr = async () => {
    const channel = `bench.ingest.${round}`;
    const t0 = process.hrtime.bigint();
    const t0Utc = BigInt(Date.now()) * 1_000_000n;
    const r = await timedRun(process.execPath, [archiverBin(), 'record', 'start', '--archiver', endpoint, '--channel', channel, '--source', `file://${path}?separator=%0A`]);
    if (r.exitCode !== 0) throw new Error(`vcr record start failed (exit ${r.exitCode}): ${r.stderr}`);
    const id = Number(r.stdout.trim());
    // wait for the stop: the notification's arrival time, or the state polled, whichever is first
    const deadline = Date.now() + 240_000;
    let endNs: bigint | undefined;
    while (endNs === undefined) {
      const s = stopped.get(id);
      if (s) endNs = s.atNs;
      else {
        const d = await ar.client.describeRecording(id);
        if (d.state !== 'recording') endNs = stopped.get(id)?.atNs ?? process.hrtime.bigint();
        else if (Date.now() > deadline) throw new Error(`recording ${id} did not stop within 240 s`);
        else await sleep(20);
      }
    }
    const d = await ar.client.describeRecording(id);
    if (d.eventCount !== LINES) throw new Error(`recording ${id} holds ${d.eventCount} of ${LINES} lines (state ${d.state})`);
    const seconds = Number(endNs - t0) / 1e9;
    endToEnd.push(LINES / seconds);
    const spanS = Number(d.stopUtcNs - d.startUtcNs) / 1e9;
    if (spanS > 0) archiverSide.push(LINES / spanS);
    // where the end-to-end time went: the CLI until it exited, spawn to the recording's start
    // (the archiver's UTC against this process's, both from the system clock, ms precision),
    // the recording itself, and from its stop time until this process heard of it
    const startS = Number(d.startUtcNs - t0Utc) / 1e9;
    const heardS = seconds - startS - spanS;
    process.stdout.write(
      `  vcr record start -> stopped: ${seconds.toFixed(2)} s, ${Math.round(LINES / seconds).toLocaleString('en-US')} events/s ` +
        `(CLI ran ${r.seconds.toFixed(2)} s; spawn -> recording start ${startS.toFixed(2)} s, archiver span ${spanS.toFixed(2)} s, stop -> heard ${heardS.toFixed(2)} s)\n`,
    );
  };
  const baseline = async () => {
    const t0 = process.hrtime.bigint();
    const r = await runJsonChild<{ events: number; loopSeconds: number }>(join(here, 'client/line-split-baseline.js'), [path]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.events !== LINES) throw new Error(`the baseline split ${r.events} of ${LINES} lines`);
    baseEnd.push(LINES / seconds);
    baseLoop.push(LINES / r.loopSeconds);
    process.stdout.write(`  read + split baseline: ${seconds.toFixed(2)} s, ${Math.round(LINES / seconds).toLocaleString('en-US')} events/s (loop ${r.loopSeconds.toFixed(2)} s)\n`);
  };
  for (; round < ROUNDS; round++) for (const s of round % 2 === 0 ? [vcr, baseline] : [baseline, vcr]) await s();
  await unsubscribe();
  await ar.stop();

  const best = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
  record({
    bench: BENCH,
    figure: `file record end to end, ${LINES.toLocaleString('en-US')} x ${LINE} B lines (vcr record start -> stopped)`,
    value: best(endToEnd),
    unit: 'events/s',
    baseline: { name: 'Node read + split loop, spawn to exit', value: best(baseEnd) },
    targets: [{ op: '>=', value: TARGET, text: '>= 1,000,000 events/s end to end (SPEC §4)' }],
  });
  record({
    bench: BENCH,
    figure: '  archiver span (first to last event timestamp)',
    value: best(archiverSide),
    unit: 'events/s',
    baseline: { name: 'Node read + split loop alone', value: best(baseLoop) },
  });
  const group = `file ingest, ${LINE} B lines, end to end`;
  bar({ group, system: 'VCR vcr record start (file source)', value: best(endToEnd), unit: 'events/s', vcr: true });
  bar({ group, system: 'Node read + split loop', value: best(baseEnd), unit: 'events/s' });
  note(BENCH, `the file is written just before (page cache); both sides timed from process spawn; best of ${ROUNDS} interleaved round(s); ${priority}`);
  printFigures('file ingest, end to end');
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

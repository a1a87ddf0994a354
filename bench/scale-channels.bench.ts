/**
 * Scaling curve: archiver RSS and CPU against the number of channels recorded at the same
 * total rate (issue 9 point 5): 1, 10 and 100 UDP channels sharing one rate (40,000
 * datagrams/s of 200 B for 10 s in full mode), sent round robin over consecutive ports by
 * the C sender. Against the bare dgram receiver bound to the same ports under the same load.
 * For each: peak RSS (VmHWM), CPU used during the load / wall time, loss; for the archiver
 * also how long starting N recordings took and the disk they preallocated.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/scale-channels.bench.js [--quick] [--rate R] [--seconds S] [--channels 1,10,100]
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { argNumber, isQuick, note, point, printFigures, record } from './lib/results.js';
import { cpuSecondsOf, freeUdpPortRange, memoryOf, startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';
import { buildSender, send, settledCount, startBareReceiver, type CountingReceiver } from './udp/harness.js';

const BENCH = 'scale-channels';
const quick = isQuick();
const RATE = argNumber('--rate', 40_000, 20_000);
const SECONDS = argNumber('--seconds', 10, 1);
const chArg = process.argv.indexOf('--channels');
const CHANNELS = chArg >= 0 ? process.argv[chArg + 1]!.split(',').map(Number) : quick ? [1, 4, 16] : [1, 10, 100];
const SIZE = 200;
const RCVBUF = 8 * 1024 * 1024;
const MB = 1024 * 1024;

installCleanup(BENCH, quick ? 55_000 : 400_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

interface Run {
  peakMB: number;
  cpuPct: number;
  lossPct: number;
}

async function load(sender: string, rx: CountingReceiver, pid: number, channels: number): Promise<Run> {
  let peak = 0;
  const sample = () => {
    const m = memoryOf(pid);
    if (m) peak = Math.max(peak, m.rss, m.hwm);
  };
  const before = await rx.count();
  const cpu0 = cpuSecondsOf(pid) ?? 0;
  const t0 = process.hrtime.bigint();
  const timer = setInterval(sample, 200);
  try {
    const s = await send(sender, rx.port, RATE * SECONDS, SIZE, RATE, channels);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (cpuSecondsOf(pid) ?? cpu0) - cpu0;
    const after = await settledCount(rx, 300);
    sample();
    return { peakMB: peak / MB, cpuPct: (100 * cpu) / wall, lossPct: (100 * (s.sent - (after - before))) / s.sent };
  } finally {
    clearInterval(timer);
  }
}

function allocatedBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    const s = statSync(join(dir, f));
    if (s.isFile()) n += s.blocks * 512;
  }
  return n;
}

async function main(): Promise<void> {
  const sender = buildSender();
  const results: { n: number; vcr: Run; bare: Run; startS: number; diskMB: number }[] = [];
  for (const n of CHANNELS) {
    const base = await freeUdpPortRange(n);
    const bareRx = await startBareReceiver(RCVBUF, { port: base, nPorts: n });
    let bare: Run;
    try {
      bare = await load(sender, bareRx, bareRx.pid, n);
    } finally {
      await bareRx.stop();
    }
    const dir = join(tempDir(`channels-${n}`), 'archive');
    const ar = await startArchiver(dir, { config: { limits: { maxRecordings: Math.max(64, n) } } });
    let vcr: Run;
    let startS: number;
    let diskMB: number;
    let unanswered = 0;
    try {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await ar.client.startRecording({ channel: `bench.ch.${i}`, source: `udp://127.0.0.1:${base + i}` });
      startS = Number(process.hrtime.bigint() - t0) / 1e9;
      diskMB = allocatedBytes(dir) / MB;
      // at 100 channels the archiver may not answer control requests while the load lasts:
      // keep asking (the CPU and memory figures do not depend on it)
      const patientCount = async (): Promise<number> => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            return await ar.counter('events');
          } catch (err) {
            unanswered++;
            if (Date.now() > deadline) throw err;
          }
        }
      };
      const rx: CountingReceiver = { name: 'archiver', port: base, count: patientCount, stop: () => ar.stop() };
      vcr = await load(sender, rx, ar.pid, n);
    } finally {
      await ar.stop();
    }
    if (unanswered > 0) note(BENCH, `${n} channels: ${unanswered} stats request(s) went unanswered (5 tries each) while the load lasted: the archiver did not serve its control endpoint`);
    results.push({ n, vcr, bare, startS, diskMB });
    process.stdout.write(
      `${String(n).padStart(3)} channels: archiver RSS ${vcr.peakMB.toFixed(0)} MB, CPU ${vcr.cpuPct.toFixed(0)}%, loss ${vcr.lossPct.toFixed(1)}% | bare RSS ${bare.peakMB.toFixed(0)} MB, CPU ${bare.cpuPct.toFixed(0)}%, loss ${bare.lossPct.toFixed(1)}% | ${n} recordings started in ${startS.toFixed(2)} s, ${diskMB.toFixed(0)} MB preallocated\n`,
    );
    const x = { x: n, xLabel: `channels (${RATE.toLocaleString('en-US')} datagrams/s in total)`, logX: true };
    point({ curve: 'Archiver RSS vs channels at the same total rate', series: 'archiver peak RSS (MB)', y: vcr.peakMB, yLabel: 'MB', ...x });
    point({ curve: 'Archiver RSS vs channels at the same total rate', series: 'bare dgram receiver peak RSS (MB)', y: bare.peakMB, yLabel: 'MB', ...x });
    point({ curve: 'Archiver CPU vs channels at the same total rate', series: 'archiver CPU (% of one core)', y: vcr.cpuPct, yLabel: '% of one core', ...x });
    point({ curve: 'Archiver CPU vs channels at the same total rate', series: 'bare dgram receiver CPU (% of one core)', y: bare.cpuPct, yLabel: '% of one core', ...x });
  }
  const lastR = results[results.length - 1]!;
  const firstR = results[0]!;
  const label = `${lastR.n} channels, ${RATE.toLocaleString('en-US')}/s in total`;
  record({ bench: BENCH, figure: `archiver peak RSS, ${label}`, value: lastR.vcr.peakMB, unit: 'MB', baseline: { name: `bare dgram receiver on ${lastR.n} ports`, value: lastR.bare.peakMB } });
  record({ bench: BENCH, figure: `archiver CPU, ${label}`, value: lastR.vcr.cpuPct, unit: '% of a core', baseline: { name: `bare dgram receiver on ${lastR.n} ports`, value: lastR.bare.cpuPct } });
  record({ bench: BENCH, figure: `archiver peak RSS, ${firstR.n} channel, same rate`, value: firstR.vcr.peakMB, unit: 'MB', baseline: { name: 'bare dgram receiver', value: firstR.bare.peakMB } });
  record({ bench: BENCH, figure: `archiver CPU, ${firstR.n} channel, same rate`, value: firstR.vcr.cpuPct, unit: '% of a core', baseline: { name: 'bare dgram receiver', value: firstR.bare.cpuPct } });
  for (const r of results) {
    note(BENCH, `${r.n} channel(s): ${r.n} recordings started in ${r.startS.toFixed(2)} s, ${r.diskMB.toFixed(0)} MB preallocated (first segment of each); loss archiver ${r.vcr.lossPct.toFixed(1)}%, bare ${r.bare.lossPct.toFixed(1)}%`);
  }
  note(BENCH, `load: ${RATE.toLocaleString('en-US')} datagrams/s of ${SIZE} B for ${SECONDS} s, round robin over the ports; CPU = (utime + stime) during the send / wall time; ${priority}`);
  printFigures('scaling: channels at the same total rate');
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

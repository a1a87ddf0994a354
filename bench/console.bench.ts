/**
 * Operator console: page load time (navigation to the timeline drawn, with its recordings and
 * rate strips) for 100 channels over 30 days of data, against a plain `fetch` of the same API
 * calls (session, overview, rates) from the same page, same run; the ratio is the cost of the
 * page itself (modules, drawing) over the data it needs.
 * The archive is written through the storage API (100 channels, a recording every 3 days with
 * a 6-hour gap between them, an event every 5 minutes: 864,000 events), then served by a real
 * archiver (in this process) to headless Chromium (Debian's package, via playwright-core).
 * --quick (smoke run): an event every 30 minutes (same channels and
 * recordings, about 130,000 events) and 1 timed page load after the warm-up one, instead of 7.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/console.bench.js [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { Archiver } from '../src/archiver/archiver.js';
import { applyConfigDocument, defaultConfig } from '../src/archiver/archiver-config.js';
import { Archive } from '../src/storage/archive.js';
import { isQuick, printFigures, record } from './lib/results.js';

const BENCH = 'console';
const CHANNELS = 100;
const DAYS = 30;
const DAY_NS = 86_400_000_000_000n;
const EVENT_EVERY_NS = isQuick() ? 1_800_000_000_000n : 300_000_000_000n;
const ROUNDS = isQuick() ? 1 : 7;

function writeArchive(dir: string, endNs: bigint): number {
  const archive = Archive.open(dir, { segmentLength: 1 << 20 });
  const payload = Buffer.alloc(100, 0x61);
  let events = 0;
  try {
    for (let c = 0; c < CHANNELS; c++) {
      for (let start = endNs - BigInt(DAYS) * DAY_NS; start < endNs; start += 3n * DAY_NS) {
        const stop = start + 3n * DAY_NS - 6n * 3_600_000_000_000n;
        const w = archive.createRecording({ channel: `channel-${String(c).padStart(3, '0')}`, source: 'udp://127.0.0.1:1', startUtcNs: start, startMonoNs: start });
        for (let t = start; t < stop; t += EVENT_EVERY_NS) {
          w.append(payload, 0, payload.length, t, t);
          events++;
        }
        w.commit();
        w.stop(stop);
      }
    }
  } finally {
    archive.close();
  }
  return events;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vcr-console-bench-'));
  const endNs = BigInt(Date.now()) * 1_000_000n;
  const events = writeArchive(join(dir, 'archive'), endNs);
  const config = applyConfigDocument(defaultConfig(join(dir, 'archive')), { control: '127.0.0.1:0', http: '127.0.0.1:0', logLevel: 'silent' });
  const archiver = await Archiver.launch(config, { logger: pino({ level: 'silent' }) });
  const browser = await chromium.launch({ executablePath: process.env.VCR_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const fromMs = Number((endNs - BigInt(DAYS) * DAY_NS) / 1_000_000n);
    const toMs = Number(endNs / 1_000_000n);
    const url = `${archiver.consoleUrl}#from=${fromMs}&to=${toMs}`;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const loads: number[] = [];
    const fetches: number[] = [];
    for (let i = 0; i < ROUNDS + 1; i++) {
      await page.goto(url);
      await page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.loaded !== undefined, undefined, { timeout: 60_000 });
      const loadMs = await page.evaluate(() => performance.now());
      // the same API calls, plain fetch from the same page (buckets as the page asks for 1220 px)
      const fetchMs = await page.evaluate(async ([f, t]) => {
        const t0 = performance.now();
        const ns = (ms: number): string => `${ms}000000`;
        await (await fetch('/api/session')).json();
        await Promise.all([fetch(`/api/overview?from=${ns(f!)}&to=${ns(t!)}`).then((r) => r.json()), fetch(`/api/rates?from=${ns(f!)}&to=${ns(t!)}&buckets=406`).then((r) => r.json())]);
        return performance.now() - t0;
      }, [fromMs, toMs]);
      if (i === 0) continue; // warm-up
      loads.push(loadMs);
      fetches.push(fetchMs);
    }
    const note = `${CHANNELS} channels x ${DAYS} days, ${CHANNELS * (DAYS / 3)} recordings, ${events} events; median of ${ROUNDS}`;
    record({ bench: BENCH, figure: 'console page load (timeline drawn), 100 channels x 30 days', value: median(loads), unit: 'ms', baseline: { name: 'plain fetch of the same API calls', value: median(fetches) }, note });
    printFigures('operator console');
  } finally {
    await browser.close();
    await archiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

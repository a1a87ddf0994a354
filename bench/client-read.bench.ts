/**
 * Reading recorded events back into a client process (SPEC §4: ">= 1,000,000 events/s for
 * 200-byte events, >= 1 GB/s for 64 KiB events, and >= 4x NATS JetStream's consumer reading
 * the same events from its file store").
 *
 * - VCR: an archive with the same events (1,000,000 x 200 B and 16,384 x 64 KiB in full
 *   mode), written in-process through src/storage, then a real archiver on it; a separate
 *   client process (bench/client/vcr-reader.ts) reads each channel over its UTC interval
 *   with `ArchiveClient.events()`, the public API only.
 * - Peer: `nats-server -js` with file storage in a temp dir (installed by the runner when
 *   missing, else "not measured"); the same payloads published with acks (npm `nats`
 *   client, pipelined), then read back from the publish start time by a separate consumer
 *   process (bench/peers/nats-reader.ts), both an ordered consumer and a pull consumer
 *   without acks; the faster of the two is the peer figure.
 * Rounds interleave VCR and NATS (reversed every other round); each figure is its best round.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/client-read.bench.js [--quick] [--events N] [--big-events N] [--rounds N]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anHourAgoNs, buildFixture, type Fixture } from './lib/archive-fixture.js';
import { runJsonChild } from './lib/child-process.js';
import { peerUnavailable } from './lib/peers.js';
import { argNumber, bar, isQuick, note, printFigures, record } from './lib/results.js';
import { publishEvents, startNatsServer, type NatsServer, type PublishResult } from './peers/nats-server.js';
import { startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';

const BENCH = 'client-read';
const here = dirname(fileURLToPath(import.meta.url));
const quick = isQuick();
const SMALL = { size: 200, count: argNumber('--events', 1_000_000, 10_000), channel: 'bench.read.200' };
const BIG = { size: 64 * 1024, count: argNumber('--big-events', 16_384, 256), channel: 'bench.read.64k' };
const ROUNDS = argNumber('--rounds', 2, 1);
const TARGET_EVENTS = 1_000_000;
const TARGET_MBPS = 1000;
const TARGET_VS_NATS = 4;

installCleanup(BENCH, quick ? 55_000 : 890_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

interface ReadResult {
  events: number;
  bytes: number;
  seconds: number;
}
type Kind = 'small' | 'big';

const rate = (r: ReadResult) => r.events / r.seconds;
const mbps = (r: ReadResult) => r.bytes / r.seconds / 1e6;
const best = (rs: ReadResult[]) => (rs.length === 0 ? null : rs.reduce((a, b) => (rate(b) > rate(a) ? b : a)));

async function main(): Promise<void> {
  const dir = join(tempDir('client-read'), 'archive');
  const utc0 = anHourAgoNs();
  const fixtures: Record<Kind, Fixture> = {
    small: buildFixture(dir, { channels: [SMALL.channel], count: SMALL.count, size: SMALL.size, utc0Ns: utc0, stepNs: 1000n }),
    big: buildFixture(dir, { channels: [BIG.channel], count: BIG.count, size: BIG.size, utc0Ns: utc0 + 3_600_000_000_000n, stepNs: 1000n }),
  };
  process.stdout.write(`VCR archive: ${SMALL.count} x ${SMALL.size} B in ${fixtures.small.seconds.toFixed(1)} s, ${BIG.count} x ${BIG.size} B in ${fixtures.big.seconds.toFixed(1)} s\n`);
  const archiver = await startArchiver(dir);

  let natsMissing = peerUnavailable('nats-server');
  let nats: NatsServer | undefined;
  const published: Partial<Record<Kind, PublishResult>> = {};
  if (!natsMissing) {
    try {
      nats = await startNatsServer(tempDir('nats-store'));
      published.small = await publishEvents(nats.port, 'BENCH_SMALL', 'bench.small', SMALL.count, SMALL.size);
      process.stdout.write(`NATS: published ${SMALL.count} x ${SMALL.size} B with acks in ${published.small.seconds.toFixed(1)} s\n`);
      published.big = await publishEvents(nats.port, 'BENCH_BIG', 'bench.big', BIG.count, BIG.size, 256);
      process.stdout.write(`NATS: published ${BIG.count} x ${BIG.size} B with acks in ${published.big.seconds.toFixed(1)} s\n`);
    } catch (err) {
      natsMissing = `nats-server did not run here: ${(err as Error).message.split('\n')[0]}`;
      process.stderr.write(`${BENCH}: ${natsMissing}\n`);
      await nats?.stop();
      nats = undefined;
    }
  }

  const results: Record<string, ReadResult[]> = {};
  let vcrRetries: number | null = null;
  const push = (key: string, r: ReadResult) => (results[key] ??= []).push(r);
  const spec = (k: Kind) => (k === 'small' ? SMALL : BIG);
  const vcrRead = async (k: Kind) => {
    const f = fixtures[k];
    const r = await runJsonChild<ReadResult & { ordered: boolean; retries: number | null }>(join(here, 'client/vcr-reader.js'), [
      '--archiver', `127.0.0.1:${archiver.controlPort}`, '--channel', spec(k).channel, '--from', String(f.fromUtcNs), '--to', String(f.toUtcNs),
    ]);
    if (r.events !== spec(k).count) throw new Error(`VCR events() read ${r.events} of ${spec(k).count} events`);
    push(`vcr.${k}`, r);
    if (r.retries !== null) vcrRetries = (vcrRetries ?? 0) + r.retries;
    process.stdout.write(`  VCR events() ${k}: ${Math.round(rate(r)).toLocaleString('en-US')} events/s, ${mbps(r).toFixed(1)} MB/s\n`);
  };
  const natsRead = async (k: Kind, mode: 'ordered' | 'pull') => {
    const r = await runJsonChild<ReadResult>(join(here, 'peers/nats-reader.js'), [
      '--port', String(nats!.port), '--stream', k === 'small' ? 'BENCH_SMALL' : 'BENCH_BIG', '--start-time', published[k]!.startTime,
      '--expect', String(spec(k).count), '--mode', mode, '--max-bytes', String(k === 'small' ? 16 << 20 : 64 << 20),
    ]);
    if (r.events !== spec(k).count) throw new Error(`NATS ${mode} consumer read ${r.events} of ${spec(k).count} events`);
    push(`nats-${mode}.${k}`, r);
    process.stdout.write(`  NATS ${mode} consumer ${k}: ${Math.round(rate(r)).toLocaleString('en-US')} events/s, ${mbps(r).toFixed(1)} MB/s\n`);
  };

  for (let round = 0; round < ROUNDS; round++) {
    process.stdout.write(`round ${round + 1}\n`);
    for (const k of ['small', 'big'] as const) {
      const steps: (() => Promise<void>)[] = [() => vcrRead(k)];
      if (nats) steps.push(() => natsRead(k, 'ordered'), () => natsRead(k, 'pull'));
      for (const s of round % 2 === 0 ? steps : [...steps].reverse()) await s();
    }
  }
  await archiver.stop();
  await nats?.stop();

  for (const k of ['small', 'big'] as const) {
    const v = best(results[`vcr.${k}`] ?? [])!;
    const ordered = best(results[`nats-ordered.${k}`] ?? []);
    const pull = best(results[`nats-pull.${k}`] ?? []);
    const peer = [ordered, pull].filter((x): x is ReadResult => x !== null).reduce<ReadResult | null>((a, b) => (a === null || rate(b) > rate(a) ? b : a), null);
    const peerName = peer === null ? `NATS JetStream consumer (${natsMissing ?? 'not measured'})` : `NATS JetStream ${peer === ordered ? 'ordered' : 'pull'} consumer`;
    const label = k === 'small' ? `${SMALL.count.toLocaleString('en-US')} x ${SMALL.size} B` : `${BIG.count.toLocaleString('en-US')} x 64 KiB`;
    if (k === 'small') {
      record({
        bench: BENCH,
        figure: `events() into a client process, ${label}`,
        value: rate(v),
        unit: 'events/s',
        baseline: { name: peerName, value: peer && rate(peer) },
        targets: [
          { op: '>=', value: TARGET_EVENTS, text: '>= 1,000,000 events/s (SPEC §4)' },
          { op: '>=', value: TARGET_VS_NATS, of: 'ratio', text: '>= 4x NATS JetStream consumer (SPEC §4)' },
        ],
      });
      record({ bench: BENCH, figure: `events() payload throughput, ${label}`, value: mbps(v), unit: 'MB/s', baseline: { name: peerName, value: peer && mbps(peer) } });
    } else {
      record({
        bench: BENCH,
        figure: `events() into a client process, ${label}`,
        value: mbps(v),
        unit: 'MB/s',
        baseline: { name: peerName, value: peer && mbps(peer) },
        targets: [{ op: '>=', value: TARGET_MBPS, text: '>= 1 GB/s (SPEC §4)' }],
      });
    }
    const unit = k === 'small' ? 'events/s' : 'MB/s';
    const val = (r: ReadResult | null) => (r === null ? null : k === 'small' ? rate(r) : mbps(r));
    const group = `client read, ${label}`;
    bar({ group, system: 'VCR ArchiveClient.events()', value: val(v), unit, vcr: true });
    bar({ group, system: 'NATS JetStream ordered consumer', value: val(ordered), unit });
    bar({ group, system: 'NATS JetStream pull consumer', value: val(pull), unit });
    for (const [name, r] of [['ordered', ordered], ['pull', pull]] as const) {
      if (r) record({ bench: BENCH, figure: `  NATS JetStream ${name} consumer, ${label}`, value: val(r), unit });
      else record({ bench: BENCH, figure: `  NATS JetStream ${name} consumer, ${label}`, value: null, unit, why: natsMissing ?? 'nats-server did not run' });
    }
  }
  for (const k of ['small', 'big'] as const) {
    const p = published[k];
    if (p) record({ bench: BENCH, figure: `  NATS JetStream publish with acks, ${spec(k).count.toLocaleString('en-US')} x ${spec(k).size} B`, value: p.count / p.seconds, unit: 'events/s', note: 'how the peer was filled; not compared' });
  }
  note(
    BENCH,
    `VCR's events were written in-process through src/storage (1 µs apart), NATS's published with acks; both read from page cache by a separate process, best of ${ROUNDS} interleaved round(s); MB = 10^6 payload bytes; ${priority}`,
  );
  if (vcrRetries !== null) note(BENCH, `VCR client request retries (lost control datagrams) over all reads: ${vcrRetries}`);
  printFigures('client read: events into a client process');
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

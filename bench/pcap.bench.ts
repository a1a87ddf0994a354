/**
 * pcap import and export throughput (issue 10 item 7), in MB/s of capture, against
 * `tcpdump -r FILE -w /dev/null` on the same capture in the same run.
 *
 * The bench writes its own capture first: 500,000 UDP/IPv4 packets (100,000 with --quick) of
 * 200-byte payloads from 16 senders, written with VCR's own pcap writer (Ethernet, nanosecond
 * times 10 µs apart), about 129 MB, in page cache. Then, in interleaved rounds, each timed from
 * process spawn to exit as a user runs them:
 *  - import: `vcr import --pcap FILE --channel C --as-fast-as-possible` into a real archiver
 *    (the archiver reads the file; the command returns once the recording stopped);
 *  - export: `vcr export --pcap OUT --recording ID` of that recording (a streamed replay to the
 *    CLI, which writes the pcap; the recorded source addresses go into the packets);
 *  - baseline: `tcpdump -r FILE -w /dev/null` (reads and rewrites every packet).
 * MB/s is the capture file's size (import, tcpdump) or the written file's size (export) over
 * the wall time. Each figure is its best round.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/pcap.bench.js [--quick] [--packets N] [--rounds N]
 */
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PcapWriter } from '../src/pcap/pcap-writer.js';
import { timedRun } from './lib/child-process.js';
import { argNumber, bar, isQuick, note, printFigures, record } from './lib/results.js';
import { archiverBin, startArchiver } from './udp/archiver-process.js';
import { boostPriority, cleanupNow, installCleanup, tempDir } from './udp/cleanup.js';
import { tcpdumpUnavailable } from './udp/tcpdump-receiver.js';

const BENCH = 'pcap';
const quick = isQuick();
const PACKETS = argNumber('--packets', 500_000, 100_000);
const PAYLOAD = 200;
const ROUNDS = argNumber('--rounds', 2, 1);
const T0 = 1_700_000_000_000_000_000n;

installCleanup(BENCH, quick ? 50_000 : 400_000);
const priority = process.argv.includes('--no-boost') ? 'nice unchanged (--no-boost)' : boostPriority(-10);

/** Writes the capture synchronously in 4 MiB pieces; returns its size in bytes. */
function writeCapture(path: string): number {
  const fd = openSync(path, 'w');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (): void => {
    writeSync(fd, Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  const add = (b: Uint8Array): Promise<void> => {
    pending.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    pendingBytes += b.byteLength;
    if (pendingBytes >= 4 << 20) flush();
    return Promise.resolve();
  };
  const w = new PcapWriter(add, { address: '10.0.0.1', port: 5000 }, { address: '10.0.0.2', port: 6000 });
  void w.writeHeader();
  const payload = Buffer.alloc(PAYLOAD, 0x61);
  const senders = Array.from({ length: 16 }, (_, i) => ({ address: `10.0.1.${i + 1}`, port: 40000 + i }));
  const dst = { address: '10.0.0.2', port: 6000 };
  for (let i = 0; i < PACKETS; i++) {
    payload.writeUInt32BE(i, 0);
    void add(w.encode(payload, T0 + BigInt(i) * 10_000n, `packet ${i}`, senders[i % 16], dst));
  }
  flush();
  closeSync(fd);
  return statSync(path).size;
}

const mbps = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;

async function main(): Promise<void> {
  const unavailable = tcpdumpUnavailable();
  const dir = tempDir('pcap');
  const capture = join(dir, 'bench.pcap');
  const size = writeCapture(capture);
  process.stdout.write(`  capture: ${PACKETS.toLocaleString('en-US')} packets, ${(size / 1e6).toFixed(1)} MB\n`);
  const ar = await startArchiver(join(dir, 'archive'));
  const endpoint = `127.0.0.1:${ar.controlPort}`;
  const imports: number[] = [];
  const exports: number[] = [];
  const tcpdump: number[] = [];
  let round = 0;
  const importOnce = async (): Promise<number> => {
    const channel = `bench.pcap.${round}`;
    const r = await timedRun(process.execPath, [archiverBin(), 'import', '--archiver', endpoint, '--pcap', capture, '--channel', channel, '--as-fast-as-possible'], { timeoutMs: 300_000 });
    if (r.exitCode !== 0) throw new Error(`vcr import failed (exit ${r.exitCode}): ${r.stderr}`);
    const id = Number(r.stdout.trim());
    const d = await ar.client.describeRecording(id);
    if (d.eventCount !== PACKETS) throw new Error(`recording ${id} holds ${d.eventCount} of ${PACKETS} datagrams`);
    imports.push(mbps(size, r.seconds));
    process.stdout.write(`  vcr import: ${r.seconds.toFixed(2)} s, ${mbps(size, r.seconds).toFixed(1)} MB/s\n`);
    return id;
  };
  const exportOnce = async (id: number): Promise<void> => {
    const out = join(dir, `export-${round}.pcap`);
    const r = await timedRun(process.execPath, [archiverBin(), 'export', '--archiver', endpoint, '--pcap', out, '--recording', String(id)], { timeoutMs: 300_000 });
    if (r.exitCode !== 0) throw new Error(`vcr export failed (exit ${r.exitCode}): ${r.stderr}`);
    const written = statSync(out).size;
    if (written !== size) throw new Error(`the export wrote ${written} bytes, the capture has ${size}`);
    exports.push(mbps(written, r.seconds));
    process.stdout.write(`  vcr export: ${r.seconds.toFixed(2)} s, ${mbps(written, r.seconds).toFixed(1)} MB/s\n`);
  };
  const tcpdumpOnce = async (): Promise<void> => {
    if (unavailable !== undefined) return;
    const r = await timedRun('tcpdump', ['-r', capture, '-w', '/dev/null'], { timeoutMs: 300_000 });
    if (r.exitCode !== 0) throw new Error(`tcpdump -r failed (exit ${r.exitCode}): ${r.stderr}`);
    tcpdump.push(mbps(size, r.seconds));
    process.stdout.write(`  tcpdump -r -w /dev/null: ${r.seconds.toFixed(2)} s, ${mbps(size, r.seconds).toFixed(1)} MB/s\n`);
  };
  for (; round < ROUNDS; round++) {
    if (round % 2 === 1) await tcpdumpOnce();
    const id = await importOnce();
    await exportOnce(id);
    if (round % 2 === 0) await tcpdumpOnce();
  }
  await ar.stop();

  const best = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
  const baseline = { name: 'tcpdump -r FILE -w /dev/null, same capture', value: best(tcpdump) };
  const what = `${PACKETS.toLocaleString('en-US')} x ${PAYLOAD} B UDP packets`;
  record({ bench: BENCH, figure: `pcap import (vcr import --pcap, spawn to stopped), ${what}`, value: best(imports), unit: 'MB/s', baseline });
  record({ bench: BENCH, figure: `pcap export (vcr export --pcap, spawn to exit), ${what}`, value: best(exports), unit: 'MB/s', baseline });
  const group = `pcap, ${PAYLOAD} B UDP packets`;
  bar({ group, system: 'VCR vcr import --pcap', value: best(imports), unit: 'MB/s', vcr: true });
  bar({ group, system: 'VCR vcr export --pcap', value: best(exports), unit: 'MB/s', vcr: true });
  bar({ group, system: 'tcpdump -r -w /dev/null', value: best(tcpdump), unit: 'MB/s' });
  note(
    BENCH,
    `capture written by the bench with VCR's pcap writer (${(size / 1e6).toFixed(0)} MB, page cache); each run timed from process spawn; best of ${ROUNDS} interleaved round(s); ${unavailable ?? priority}`,
  );
  printFigures('pcap import and export');
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

/**
 * `vcr demo`: a guided tour that needs nothing running. It starts an archiver child process
 * (`vcr archiver`) in a temporary directory on a free port, records a generated UDP stream
 * and a file, replays the UDP recording to a socket it listens on and the file recording to
 * a file, checks that what came back is what went in, prints each step, and cleans up.
 */
import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchiveClient } from '../../client/archive-client.js';
import { NotificationKind } from '../../client/notifications.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { interrupts } from '../interrupt.js';
import { info, out } from '../output.js';
import { runClusterDemo } from './demo-cluster.js';

const UDP_EVENTS = 40;
const FILE_LINES = 200;

function vcrBin(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../../..', '../../..']) {
    const p = resolve(here, up, 'bin/vcr.js');
    if (existsSync(p)) return p;
  }
  return process.argv[1] ?? 'vcr';
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function step(n: number, text: string): void {
  info(`[demo ${n}] ${text}`);
}

function fail(text: string): never {
  throw new VcrError(ErrorCode.GENERIC, `demo: ${text}`);
}

/** Ends a step early once Ctrl-C / SIGTERM came (the finally of runDemo then cleans up). */
function checkInterrupted(): void {
  if (interrupts.received !== undefined) fail(`interrupted by ${interrupts.received}`);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkInterrupted();
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function runDemo(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vcr-demo-'));
  let archiver: ChildProcess | null = null;
  let client: ArchiveClient | null = null;
  let sink: Socket | null = null;
  // on a signal: close the session so whatever runDemo awaits fails, and let finally clean up
  const offInterrupt = interrupts.onInterrupt(() => client?.close());
  try {
    const controlPort = await freeUdpPort();
    const control = `127.0.0.1:${controlPort}`;
    step(1, `starting an archiver in ${dir}, control ${control}`);
    archiver = spawn(process.execPath, [vcrBin(), 'archiver', '--dir', join(dir, 'archive'), '--control', control], { stdio: ['ignore', 'ignore', 'pipe'] });
    let archiverErr = '';
    archiver.stderr!.on('data', (d: Buffer) => (archiverErr = (archiverErr + d.toString()).slice(-2000)));
    const exited = new Promise<number | null>((r) => archiver!.once('exit', (code) => r(code)));
    client = await Promise.race([
      waitFor('the archiver to answer', 15_000, () => ArchiveClient.connect({ archiver: control, timeoutMs: 200, attempts: 2, clientName: 'vcr-demo' })),
      exited.then((code) => fail(`the archiver exited (code ${code}): ${archiverErr.trim()}`)),
    ]);
    step(2, `connected, control session ${client.sessionId}`);

    const udpPort = await freeUdpPort();
    const udpRec = await client.startRecording({ channel: 'demo.udp', source: `udp://127.0.0.1:${udpPort}`, aliases: ['demo.generated'] });
    step(3, `recording channel demo.udp from udp://127.0.0.1:${udpPort} as recording ${udpRec}; sending ${UDP_EVENTS} datagrams`);
    const sender = createSocket('udp4');
    const sent: Buffer[] = [];
    for (let i = 0; i < UDP_EVENTS; i++) {
      checkInterrupted();
      const payload = Buffer.from(`demo event ${i} ${'x'.repeat(i % 7)}`);
      sent.push(payload);
      await new Promise<void>((r) => sender.send(payload, udpPort, '127.0.0.1', () => r()));
      await sleep(5);
    }
    sender.close();
    await waitFor(`${UDP_EVENTS} events in recording ${udpRec}`, 10_000, async () =>
      (await client!.describeRecording(udpRec)).eventCount >= UDP_EVENTS ? true : undefined,
    );
    await client.stopRecording({ recordingId: udpRec });
    step(4, `recorded ${UDP_EVENTS} datagrams; recording ${udpRec} stopped`);

    const input = join(dir, 'input.txt');
    const lines = Array.from({ length: FILE_LINES }, (_, i) => `line ${i}: ${'abcdefghij'.slice(0, i % 10)}`);
    writeFileSync(input, `${lines.join('\n')}\n`);
    const fileRec = await client.startRecording({ channel: 'demo.file', source: `file://${input}?separator=%0A` });
    step(5, `recording ${input} (${FILE_LINES} lines) as channel demo.file, recording ${fileRec}`);
    await waitFor(`${FILE_LINES} events in recording ${fileRec}`, 10_000, async () =>
      (await client!.describeRecording(fileRec)).eventCount >= FILE_LINES ? true : undefined,
    );
    await client.stopRecording({ recordingId: fileRec }).catch(() => undefined); // a finished file may have stopped by itself
    step(6, `recorded ${FILE_LINES} lines`);

    sink = createSocket('udp4');
    const received: Buffer[] = [];
    sink.on('message', (m) => received.push(m));
    await new Promise<void>((r) => sink!.bind(0, '127.0.0.1', () => r()));
    const dest = `udp://127.0.0.1:${sink.address().port}`;
    let ended = false;
    const unsubscribe = await client.subscribe(NotificationKind.replay, (n) => {
      if (n.type === 'replayEnded') ended = true;
    });
    const replayId = await client.replay({ recordingId: udpRec, destination: dest, speed: 0 });
    step(7, `replaying recording ${udpRec} to ${dest} as fast as possible (replay session ${replayId})`);
    await waitFor('the UDP replay to end', 10_000, async () => (ended || received.length >= UDP_EVENTS ? true : undefined));
    await sleep(50); // stragglers after ReplayEnded
    await unsubscribe();
    const same = received.length === sent.length && received.every((b, i) => b.equals(sent[i]!));
    if (!same) fail(`UDP replay delivered ${received.length} datagrams, ${sent.length} expected in the same order with the same bytes`);
    step(8, `received all ${received.length} datagrams back, identical and in order`);

    const output = join(dir, 'replayed.txt');
    const chunks: Buffer[] = [];
    for await (const e of client.read({ recordingId: fileRec })) chunks.push(e.payload, Buffer.from('\n'));
    writeFileSync(output, Buffer.concat(chunks));
    if (!readFileSync(output).equals(readFileSync(input))) fail(`${output} differs from ${input}`);
    step(9, `replayed recording ${fileRec} to ${output}: byte-identical to the input file`);

    const list = await client.listRecordings();
    for (const d of list) info(`         recording ${d.recordingId}  ${d.channel}  ${d.state}  ${d.eventCount} events  ${d.source}`);
    step(10, 'done; stopping the archiver and removing the temporary directory');
  } finally {
    offInterrupt();
    sink?.close();
    await client?.close().catch(() => undefined);
    if (archiver && archiver.exitCode === null) {
      const gone = new Promise<void>((r) => archiver!.once('exit', () => r()));
      archiver.kill('SIGTERM');
      const t = setTimeout(() => archiver!.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start an archiver in a temporary directory, record a UDP stream and a file, replay both, and show each step')
    .option('--cluster', 'start etcd and three archivers (K=2) instead: record, read from another node, kill one, watch the repair')
    .action(async (o: { cluster?: boolean }) => {
      if (o.cluster) await runClusterDemo({ vcrBin, freeUdpPort, waitFor, step, fail });
      else await runDemo();
      await out('demo: OK\n');
    });
}

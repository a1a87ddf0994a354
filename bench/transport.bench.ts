/**
 * Framed TCP transport throughput over loopback (src/transport), against a raw `net` socket
 * pipe carrying the same bytes, measured in the same run.
 *
 * Two processes, one per core, as an archiver and a client: this one sends, a forked child
 * receives. Workloads: 200-byte payloads (the transport batches frames into ~64 KiB socket
 * writes), 64 KiB payloads, and 1 MiB payloads (the shape of a repair's or a mirror's Frames
 * messages, each larger than the default staging slab). Modes:
 * - raw (baseline): the sender writes ready-made ~64 KiB buffers of the same frame bytes with
 *   `socket.write` (waiting for 'drain' when it returns false); the receiver only counts
 *   bytes. The loopback ceiling: no framing, no copies, no per-frame work.
 * - transport, receiver connects: the streamed replay's shape. The sender listens
 *   (TransportServer), the receiver dials with `Connection.connect`, whose reads land in its
 *   receive slab (no assembly copy).
 * - transport, receiver accepts: the receiver listens and reads Node's 'data' chunks
 *   (FrameDecoder; frames spanning chunks are joined once).
 * In both transport modes both sides are agents on an AgentRunner: the sender offers frames
 * with `trySend` while `writable` (parked when held back, woken by `onDrain`), the receiver
 * takes every frame with `poll()` and reads the first byte of each payload (parked when idle,
 * woken by `onReceive`).
 * Rates are measured by the receiver from its first byte to its last; each case runs 3 times
 * (1 with --quick) and the median is reported. The sender's CPU time (user + system, from
 * process.cpuUsage around the send, GC included) is reported per GiB sent: it shows what the
 * send path costs beyond the kernel's copy (e.g. a staging slab allocated per message).
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/transport.bench.js [--quick]
 */
import { fork } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AgentRunner } from '../src/agent/agent-runner.js';
import { Connection, TransportServer } from '../src/transport/index.js';
import { installCleanup, trackChild } from './udp/cleanup.js';
import { printTable, type Row } from './udp/report.js';

type Mode = 'raw' | 'dial' | 'accept';
const MODE_LABEL: Record<Mode, string> = { raw: 'raw pipe', dial: 'transport, receiver connects', accept: 'transport, receiver accepts' };
interface Result {
  frames: number;
  bytes: number;
  ns: number;
  /** the sender's CPU microseconds for the whole send (filled in by the sender) */
  senderCpuUs?: number;
}
type Message = Partial<Result> & { port?: number };

const quick = process.argv.includes('--quick');
const BATCH = 64 * 1024;

function frameBytes(size: number): Buffer {
  const b = Buffer.alloc(4 + size, 0x5a);
  b.writeUInt32LE(size, 0);
  return b;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

async function acceptOne(server: TransportServer): Promise<Connection> {
  let c: Connection | undefined;
  while (!c) {
    server.poll((x) => (c = x));
    if (!c) await new Promise((r) => setTimeout(r, 1));
  }
  return c;
}

// ---------------------------------------------------------------- receiver (child process)

async function receiver(mode: Mode, expectedFrames: number, size: number, senderPort: number): Promise<void> {
  const expectedBytes = expectedFrames * (4 + size);
  let start = 0n;
  const done = (frames: number, bytes: number): void => {
    const ns = Number(process.hrtime.bigint() - start);
    process.send!({ frames, bytes, ns } satisfies Result, () => process.exit(0));
  };
  if (mode === 'raw') {
    const socket = await dial(senderPort);
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) start = process.hrtime.bigint();
      bytes += chunk.length;
      if (bytes >= expectedBytes) done(expectedFrames, bytes);
    });
    return;
  }
  let runner: AgentRunner | undefined;
  const options = { maxFrameLength: size + 16, onReceive: () => runner?.wake() };
  let conn: Connection;
  if (mode === 'dial') {
    conn = Connection.connect('127.0.0.1', senderPort, options);
  } else {
    const server = new TransportServer('127.0.0.1:0', { connection: options });
    process.send!({ port: await server.listen() } satisfies Message);
    conn = await acceptOne(server);
  }
  let frames = 0;
  let bytes = 0;
  let sink = 0;
  const handler = (buffer: Buffer, offset: number, length: number): void => {
    sink += buffer[offset]!;
    bytes += length + 4;
    frames++;
  };
  // the receiving agent, as a client runs it: polls, parks when idle, woken by onReceive
  runner = new AgentRunner({
    roleName: 'bench-receiver',
    doWork: () => {
      if (frames === 0 && conn.inboundFrames > 0) start = process.hrtime.bigint();
      const work = conn.poll(handler);
      if (frames >= expectedFrames) {
        if (sink < 0) process.stdout.write('');
        void runner!.close();
        done(frames, bytes);
      }
      return work;
    },
    onClose: () => {},
  });
  runner.start();
}

// ---------------------------------------------------------------- sender (this process)

function rawSend(socket: Socket, frames: number, size: number): Promise<void> {
  const perBatch = Math.max(1, Math.floor(BATCH / (4 + size)));
  const one = frameBytes(size);
  const batch = Buffer.concat(Array.from({ length: perBatch }, () => one));
  const tail = Buffer.concat(Array.from({ length: frames % perBatch }, () => one));
  let left = Math.floor(frames / perBatch);
  return new Promise((resolve) => {
    const pump = (): void => {
      while (left > 0) {
        left--;
        if (!socket.write(batch)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (tail.length > 0) socket.write(tail);
      resolve();
    };
    pump();
  });
}

function transportSend(conn: Connection, frames: number, size: number): Promise<void> {
  const p = frameBytes(size).subarray(4);
  let sent = 0;
  return new Promise((resolve) => {
    // the sending agent: offers frames while writable, parks when held back, woken by onDrain
    const runner = new AgentRunner({
      roleName: 'bench-sender',
      doWork: () => {
        const from = sent;
        const budgetEnd = sent + 4096;
        while (sent < budgetEnd && sent < frames && conn.trySend(p)) sent++;
        if (sent >= frames) {
          conn.flush();
          void runner.close();
          resolve();
        }
        return sent - from;
      },
      onClose: () => {},
    });
    conn.onDrain = () => runner.wake();
    runner.start();
  });
}

async function runCase(mode: Mode, frames: number, size: number): Promise<Result> {
  // the sender listens for 'raw' and 'dial'; for 'accept' the receiver listens
  const rawServer = mode === 'raw' ? createServer({ noDelay: true }) : undefined;
  const server = mode === 'dial' ? new TransportServer('127.0.0.1:0', { connection: { maxFrameLength: size + 16 } }) : undefined;
  const rawAccepted = rawServer ? new Promise<Socket>((r) => rawServer.once('connection', r)) : undefined;
  let port = 0;
  if (rawServer) {
    await new Promise<void>((r) => rawServer.listen(0, '127.0.0.1', r));
    port = (rawServer.address() as { port: number }).port;
  }
  if (server) port = await server.listen();
  const child = trackChild(fork(fileURLToPath(import.meta.url), ['receiver', mode, String(frames), String(size), String(port)], { stdio: 'inherit' }));
  const messages: Message[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m) => {
    messages.push(m as Message);
    wake?.();
  });
  const next = async (): Promise<Message> => {
    while (messages.length === 0) await new Promise<void>((r) => (wake = r));
    return messages.shift()!;
  };
  let close: () => void;
  const cpu = process.cpuUsage();
  if (mode === 'raw') {
    const socket = await rawAccepted!;
    close = () => socket.destroy();
    await rawSend(socket, frames, size);
  } else {
    const conn = mode === 'dial' ? await acceptOne(server!) : new Connection(await dial((await next()).port!), { maxFrameLength: size + 16 });
    close = () => conn.abort('bench over');
    await transportSend(conn, frames, size);
  }
  const result = (await next()) as Result;
  const used = process.cpuUsage(cpu);
  result.senderCpuUs = used.user + used.system;
  close();
  rawServer?.close();
  server?.close();
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
  return result;
}

async function main(): Promise<void> {
  installCleanup('transport.bench', 400_000);
  const cases: { size: number; frames: number }[] = [
    { size: 200, frames: quick ? 500_000 : 2_000_000 },
    { size: 64 * 1024, frames: quick ? 2_000 : 8_000 },
    { size: 1024 * 1024, frames: quick ? 300 : 1_000 },
  ];
  const modes: Mode[] = ['raw', 'dial', 'accept'];
  const rows: Row[] = [];
  for (const { size, frames } of cases) {
    const medians = {} as Record<Mode, Result>;
    for (const mode of modes) {
      const runs: Result[] = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await runCase(mode, frames, size));
      runs.sort((a, b) => a.ns - b.ns);
      medians[mode] = runs[Math.floor(runs.length / 2)]!;
    }
    const rate = (r: Result): number => r.frames / (r.ns / 1e9);
    const mbs = (r: Result): number => r.bytes / (r.ns / 1e9) / 1e6;
    const cpuPerGiB = (r: Result): string => `sender ${((r.senderCpuUs ?? 0) / 1e6 / (r.bytes / 2 ** 30)).toFixed(2)} CPU s/GiB`;
    const base = medians.raw;
    const label = size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    for (const mode of ['dial', 'accept'] as const) {
      const t = medians[mode];
      rows.push({
        figure: `${label} payloads, ${MODE_LABEL[mode]}`,
        value: `${Math.round(rate(t)).toLocaleString('en-US')} frames/s, ${mbs(t).toFixed(0)} MB/s, ${cpuPerGiB(t)}`,
        baseline: `${Math.round(rate(base)).toLocaleString('en-US')} frames/s, ${mbs(base).toFixed(0)} MB/s, ${cpuPerGiB(base)} (${MODE_LABEL.raw})`,
        ratio: `${((rate(t) / rate(base)) * 100).toFixed(0)}%`,
        target: '-',
        met: undefined,
      });
    }
  }
  printTable(`framed TCP transport over loopback (median of ${quick ? 1 : 3}; sender and receiver in separate processes)`, rows);
}

if (process.argv[2] === 'receiver') {
  void receiver(process.argv[3] as Mode, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`transport.bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * Framed TCP transport throughput over loopback (src/transport), against a raw `net` socket
 * pipe carrying the same bytes, measured in the same run.
 *
 * Two processes: this one sends, a forked child receives (the machine's two cores, one per
 * side, as for a real archiver and client). Workloads: 200-byte payloads (frames batched into
 * ~64 KiB socket writes by the transport) and 64 KiB payloads.
 * - transport: both sides are agents on an AgentRunner, as in the archiver and the client:
 *   the sender offers frames with `trySend` while `writable` (parked when held back, woken by
 *   `onDrain`), the receiver takes every frame with `poll()` and reads the first byte of each
 *   payload (parked when idle, woken by `onReceive`).
 * - baseline, raw pipe: the sender writes ready-made ~64 KiB buffers of the same frame bytes
 *   with `socket.write` (waiting for 'drain' when it returns false); the receiver only counts
 *   bytes. This is the loopback ceiling: no framing, no copies, no per-frame work.
 * Rates are measured by the receiver from its first byte to its last; each case runs 3 times
 * and the median is reported.
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/transport.bench.js [--quick]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AgentRunner } from '../src/agent/agent-runner.js';
import { Connection, TransportServer } from '../src/transport/index.js';
import { installCleanup, trackChild } from './udp/cleanup.js';
import { printTable, type Row } from './udp/report.js';

type Mode = 'raw' | 'transport';
interface Result {
  frames: number;
  bytes: number;
  ns: number;
}

const quick = process.argv.includes('--quick');
const BATCH = 64 * 1024;

function frameBytes(size: number, seq: number): Buffer {
  const b = Buffer.alloc(4 + size, seq & 0xff);
  b.writeUInt32LE(size, 0);
  b.writeUInt32LE(seq, 4);
  return b;
}

// ---------------------------------------------------------------- receiver (child process)

async function receiver(mode: Mode, expectedFrames: number, size: number): Promise<void> {
  const expectedBytes = expectedFrames * (4 + size);
  let start = 0n;
  const done = (frames: number, bytes: number): void => {
    const ns = Number(process.hrtime.bigint() - start);
    process.send!({ frames, bytes, ns } satisfies Result, () => process.exit(0));
  };
  if (mode === 'raw') {
    const server = createServer((socket) => {
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => {
        if (bytes === 0) start = process.hrtime.bigint();
        bytes += chunk.length;
        if (bytes >= expectedBytes) done(expectedFrames, bytes);
      });
    });
    server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
    return;
  }
  let runner: AgentRunner | undefined;
  const wake = (): void => runner?.wake();
  const server = new TransportServer('127.0.0.1:0', { connection: { maxFrameLength: size + 16, onReceive: wake } });
  const port = await server.listen();
  let conn: Connection | undefined;
  let frames = 0;
  let bytes = 0;
  let sink = 0;
  const handler = (buffer: Buffer, offset: number, length: number): void => {
    sink += buffer[offset]!;
    bytes += length + 4;
    frames++;
  };
  // the receiving agent, as an archiver or client runs it: polls, parks when idle, woken by onReceive
  runner = new AgentRunner({
    roleName: 'bench-receiver',
    doWork: () => {
      let work = 0;
      if (!conn) work += server.poll((c) => (conn = c));
      if (!conn) return work;
      if (frames === 0 && conn.inboundFrames > 0) start = process.hrtime.bigint();
      work += conn.poll(handler);
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
  process.send!({ port });
}

// ---------------------------------------------------------------- sender (this process)

function rawSend(socket: Socket, frames: number, size: number): Promise<void> {
  const perBatch = Math.max(1, Math.floor(BATCH / (4 + size)));
  const one = frameBytes(size, 1);
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
  const p = frameBytes(size, 1).subarray(4);
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
  const child: ChildProcess = trackChild(fork(fileURLToPath(import.meta.url), ['receiver', mode, String(frames), String(size)], { stdio: 'inherit' }));
  const messages: unknown[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  const next = async (): Promise<Record<string, number>> => {
    while (messages.length === 0) await new Promise<void>((r) => (wake = r));
    return messages.shift() as Record<string, number>;
  };
  const { port } = await next();
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: port! }, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  if (mode === 'raw') {
    await rawSend(socket, frames, size);
  } else {
    const conn = new Connection(socket, { maxFrameLength: size + 16 });
    await transportSend(conn, frames, size);
  }
  const result = (await next()) as unknown as Result;
  socket.destroy();
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
  return result;
}

async function main(): Promise<void> {
  installCleanup('transport.bench', 175_000);
  const cases: { size: number; frames: number }[] = [
    { size: 200, frames: quick ? 500_000 : 3_000_000 },
    { size: 64 * 1024, frames: quick ? 4_000 : 16_000 },
  ];
  const rows: Row[] = [];
  for (const { size, frames } of cases) {
    const medians: Record<Mode, Result> = {} as Record<Mode, Result>;
    for (const mode of ['raw', 'transport'] as Mode[]) {
      const runs: Result[] = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await runCase(mode, frames, size));
      runs.sort((a, b) => a.ns - b.ns);
      medians[mode] = runs[Math.floor(runs.length / 2)]!;
    }
    const rate = (r: Result): number => r.frames / (r.ns / 1e9);
    const mbs = (r: Result): number => r.bytes / (r.ns / 1e9) / 1e6;
    const t = medians.transport;
    const b = medians.raw;
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    rows.push({
      figure: `frames/s, ${label} payloads`,
      value: `${Math.round(rate(t)).toLocaleString('en-US')}/s`,
      baseline: `${Math.round(rate(b)).toLocaleString('en-US')}/s (raw pipe)`,
      ratio: `${((rate(t) / rate(b)) * 100).toFixed(0)}%`,
      target: '-',
      met: undefined,
    });
    rows.push({
      figure: `MB/s, ${label} payloads`,
      value: `${mbs(t).toFixed(0)} MB/s`,
      baseline: `${mbs(b).toFixed(0)} MB/s (raw pipe)`,
      ratio: `${((mbs(t) / mbs(b)) * 100).toFixed(0)}%`,
      target: '-',
      met: undefined,
    });
  }
  printTable(`framed TCP transport over loopback (median of ${quick ? 1 : 3}; sender and receiver in separate processes)`, rows);
}

if (process.argv[2] === 'receiver') {
  void receiver(process.argv[3] as Mode, Number(process.argv[4]), Number(process.argv[5]));
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`transport.bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

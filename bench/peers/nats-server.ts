/**
 * NATS JetStream as a peer: Debian's `nats-server -js` with file storage in a temp directory
 * on a free loopback port, started and killed (by pid) by the benchmark, and the publishing
 * side of the comparison: the same events as VCR's fixture, published with acks (pipelined,
 * a window of outstanding acks) into a file-backed stream.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { connect, StorageType, type NatsConnection } from 'nats';
import { trackChild } from '../udp/cleanup.js';

export interface NatsServer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startNatsServer(storeDir: string): Promise<NatsServer> {
  const port = await freeTcpPort();
  const child = trackChild(spawn('nats-server', ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let tail = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`nats-server did not start within 15 s:${tail}`)), 15_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail = (tail + '\n' + line).slice(-2000);
      if (line.includes('Server is ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`nats-server exited (${code}):${tail}`));
    });
  });
  return {
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const k = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(k);
    },
  };
}

export interface PublishResult {
  /** ISO time taken just before the first publish: the consumers' opt_start_time */
  startTime: string;
  seconds: number;
  count: number;
}

/**
 * Creates a file-backed stream `stream` on `subject` and publishes `count` payloads of `size`
 * bytes (uint64 LE sequence number first, like VCR's fixture), each with an ack, `window`
 * acks outstanding at most.
 */
export async function publishEvents(port: number, stream: string, subject: string, count: number, size: number, window = 1024): Promise<PublishResult> {
  const nc: NatsConnection = await connect({ servers: `127.0.0.1:${port}` });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, max_msg_size: -1 });
    const js = nc.jetstream();
    // the start time lies strictly before the first message's store time
    const startTime = new Date(Date.now() - 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const inFlight: Promise<unknown>[] = [];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(size, 0x78);
      payload.writeBigUInt64LE(BigInt(i), 0);
      inFlight.push(js.publish(subject, payload));
      if (inFlight.length >= window) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { startTime, seconds, count };
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

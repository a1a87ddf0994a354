/**
 * Shared machinery of the UDP benchmarks: building and running the C sender, and the
 * search for the highest send rate a receiver takes with zero loss. A receiver is
 * anything that can report how many datagrams it has taken so far.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');

export interface CountingReceiver {
  readonly name: string;
  readonly port: number;
  /** datagrams (events) taken so far */
  count(): Promise<number>;
  stop(): Promise<void>;
}

/** Compiles bench/udp/sender.c with the system C compiler (once, cached in .tmp/). */
export function buildSender(): string {
  const src = join(repoRoot, 'bench/udp/sender.c');
  const out = join(repoRoot, '.tmp/bench-udp-sender');
  mkdirSync(dirname(out), { recursive: true });
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    const r = spawnSync('cc', ['-O2', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot build the UDP sender: ${r.stderr}`);
  }
  return out;
}

export interface SendResult {
  sent: number;
  elapsedNs: number;
}

export function send(sender: string, port: number, count: number, size: number, rate: number, channels = 1): Promise<SendResult> {
  return new Promise((resolveSend, reject) => {
    const child = spawn(sender, ['127.0.0.1', String(port), String(count), String(size), String(rate), String(channels)]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const m = /^sent (\d+) (\d+)/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`sender failed (exit ${code}): ${out}`));
      resolveSend({ sent: Number(m[1]), elapsedNs: Number(m[2]) });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the receiver's count stops moving (everything in flight has landed). */
export async function settledCount(rx: CountingReceiver, quietMs = 300, maxMs = 10_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = await rx.count();
  for (;;) {
    await sleep(quietMs);
    const now = await rx.count();
    if (now === last || Date.now() > deadline) return now;
    last = now;
  }
}

export interface TrialResult {
  rate: number;
  sent: number;
  received: number;
  lost: number;
  achievedRate: number;
}

export async function trial(rx: CountingReceiver, sender: string, rate: number, seconds: number, size: number, channels = 1): Promise<TrialResult> {
  const before = await settledCount(rx, 100);
  const count = Math.max(20_000, Math.round(rate * seconds));
  const s = await send(sender, rx.port, count, size, rate, channels);
  const after = await settledCount(rx);
  const received = after - before;
  return { rate, sent: s.sent, received, lost: s.sent - received, achievedRate: s.sent / (s.elapsedNs / 1e9) };
}

/**
 * Highest rate (datagrams/s) with zero loss, by bisection between lo and hi. Each rate is
 * tried `confirm` times; a single loss fails it (loss is what we are measuring).
 */
export async function maxZeroLossRate(
  rx: CountingReceiver,
  sender: string,
  opts: { lo: number; hi: number; seconds: number; size: number; steps: number; confirm?: number; log?: (t: TrialResult) => void },
): Promise<number> {
  let lo = opts.lo;
  let hi = opts.hi;
  let best = 0;
  for (let i = 0; i < opts.steps; i++) {
    const rate = Math.round(i === 0 ? lo : (lo + hi) / 2);
    let ok = true;
    for (let c = 0; c < (opts.confirm ?? 1) && ok; c++) {
      const t = await trial(rx, sender, rate, opts.seconds, opts.size);
      opts.log?.(t);
      ok = t.lost === 0 && t.achievedRate >= rate * 0.95;
    }
    if (ok) {
      best = Math.max(best, rate);
      lo = rate;
    } else {
      hi = rate;
      if (i === 0) lo = lo / 2;
    }
  }
  return best;
}

/** The bare Node.js dgram receiver (the baseline), in its own process. */
export async function startBareReceiver(recvBufferSize: number): Promise<CountingReceiver> {
  const child: ChildProcess = spawn(process.execPath, [join(here, 'bare-receiver.js'), '0', String(recvBufferSize)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((r) => waiting.push(r));
  const ready = await next();
  const port = Number(/^ready (\d+)/.exec(ready)?.[1]);
  return {
    name: 'bare dgram receiver',
    port,
    async count() {
      const p = next();
      child.stdin!.write('count\n');
      return Number((await p).split(' ')[0]);
    },
    async stop() {
      child.kill('SIGKILL');
    },
  };
}

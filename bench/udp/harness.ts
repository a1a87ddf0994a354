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
import { trackChild } from './cleanup.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');

export interface CountingReceiver {
  readonly name: string;
  readonly port: number;
  /** datagrams (events) taken so far */
  count(): Promise<number>;
  /** How long the count must stay still to be final (default 300 ms; longer for batching receivers). */
  readonly quietMs?: number;
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

export function send(sender: string, port: number, count: number, size: number, rate: number, channels = 1, burst = 32): Promise<SendResult> {
  return new Promise((resolveSend, reject) => {
    const child = trackChild(spawn(sender, ['127.0.0.1', String(port), String(count), String(size), String(rate), String(channels), String(burst)]));
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
  const after = await settledCount(rx, rx.quietMs ?? 300);
  const received = after - before;
  return { rate, sent: s.sent, received, lost: s.sent - received, achievedRate: s.sent / (s.elapsedNs / 1e9) };
}

/**
 * One unpaced burst: `count` datagrams from the C sender as fast as it can send them (its
 * own limit, the most load this machine can generate), and what the receiver took of them.
 */
export async function blast(rx: CountingReceiver, sender: string, count: number, size: number): Promise<TrialResult> {
  const before = await settledCount(rx, 100);
  const s = await send(sender, rx.port, count, size, 0);
  const after = await settledCount(rx, rx.quietMs ?? 300);
  const received = after - before;
  const achievedRate = s.sent / (s.elapsedNs / 1e9);
  return { rate: achievedRate, sent: s.sent, received, lost: s.sent - received, achievedRate };
}

/**
 * Highest rate (datagrams/s) with zero loss: doubles from `start` until a rate fails (or `max`
 * is reached), then bisects between the last rate that passed and the first that failed for
 * `steps` more trials. A rate passes when no datagram is lost and the sender really reached
 * it (a starved sender proves nothing); each rate is tried `confirm` times (default 1).
 * The ramp adapts the search to the machine: on a loaded VM a receiver may top out at 40k/s,
 * on an idle one at 400k/s, and a fixed range would waste most trials far from the answer.
 */
export async function maxZeroLossRate(
  rx: CountingReceiver,
  sender: string,
  opts: { start: number; max: number; seconds: number; size: number; steps: number; confirm?: number; channels?: number; log?: (t: TrialResult) => void },
): Promise<number> {
  const passes = async (rate: number): Promise<boolean> => {
    for (let c = 0; c < (opts.confirm ?? 1); c++) {
      const t = await trial(rx, sender, rate, opts.seconds, opts.size, opts.channels ?? 1);
      opts.log?.(t);
      if (t.lost !== 0 || t.achievedRate < rate * 0.95) return false;
    }
    return true;
  };
  let lo = 0;
  let hi = 0;
  for (let rate = opts.start; ; rate = Math.min(opts.max, rate * 2)) {
    if (await passes(rate)) {
      lo = rate;
      if (rate >= opts.max) return rate;
    } else {
      hi = rate;
      break;
    }
  }
  if (lo === 0) lo = hi / 8; // even the start rate failed: look below it
  let best = lo === hi / 8 ? 0 : lo;
  for (let i = 0; i < opts.steps; i++) {
    const rate = Math.round((lo + hi) / 2);
    if (await passes(rate)) {
      best = Math.max(best, rate);
      lo = rate;
    } else {
      hi = rate;
    }
  }
  return best;
}

export interface BareReceiver extends CountingReceiver {
  readonly pid: number;
  /** Count, and the receipt times (system monotonic ns, as process.hrtime) of the first and last datagram. */
  timing(): Promise<{ received: number; firstNs: bigint; lastNs: bigint }>;
  /** With recordTimes: median and 99th percentile of |arrival gap - expectedNs| over consecutive datagrams, ns. */
  gapError(expectedNs: number): Promise<{ medianNs: number; p99Ns: number; gaps: number }>;
}

/**
 * The bare Node.js dgram receiver (the baseline), in its own process: on an ephemeral port,
 * or on `nPorts` consecutive ports from `port`.
 */
export async function startBareReceiver(recvBufferSize: number, opts: { port?: number; nPorts?: number; recordTimes?: boolean } = {}): Promise<BareReceiver> {
  const args = [join(here, 'bare-receiver.js'), String(opts.port ?? 0), String(recvBufferSize), String(opts.nPorts ?? 1), ...(opts.recordTimes ? ['times'] : [])];
  const child: ChildProcess = trackChild(
    spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  child.once('exit', (code, signal) => {
    for (const w of waiting.splice(0)) w(`exited ${code ?? signal}`);
  });
  const next = () => new Promise<string>((r) => waiting.push(r));
  const ready = await next();
  const m = /^ready (\d+)/.exec(ready);
  if (!m) throw new Error(`the bare receiver did not start: ${ready}`);
  const port = Number(m[1]);
  const timing = async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the bare receiver has exited');
    const p = next();
    child.stdin!.write('count\n');
    const f = (await p).split(' ');
    if (f.length < 4) throw new Error(`the bare receiver answered ${f.join(' ')}`);
    return { received: Number(f[0]), firstNs: BigInt(f[2]!), lastNs: BigInt(f[3]!) };
  };
  return {
    name: 'bare dgram receiver',
    port,
    pid: child.pid!,
    timing,
    async gapError(expectedNs: number) {
      const p = next();
      child.stdin!.write(`gaps ${expectedNs}\n`);
      const f = (await p).split(' ').map(Number);
      if (f.length < 3 || f.some((x) => !Number.isFinite(x))) throw new Error(`the bare receiver answered gaps with ${f.join(' ')}`);
      return { medianNs: f[0]!, p99Ns: f[1]!, gaps: f[2]! };
    },
    async count() {
      return (await timing()).received;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

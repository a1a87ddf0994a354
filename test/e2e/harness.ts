/**
 * End-to-end harness: real `vcr archiver` child processes on free loopback ports in temp
 * directories, the real CLI, real UDP. Every process started here is killed by `stopAll()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { repoRoot, vcrBin } from '../helpers/cli.js';
import { until as untilCondition } from '../helpers/wait.js';

export { vcr } from '../cli/run.js';

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

import { sleep } from '../helpers/wait.js';
export { sleep };

/** until() of test/helpers/wait.ts with the timeout first, as the e2e suites call it. */
export function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  return untilCondition(what, probe, timeoutMs, 50);
}

export class ArchiverProcess {
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly control: string,
  ) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-20_000)));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await this.exited;
  }
}

const started: ArchiverProcess[] = [];
const dirs: string[] = [];

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Starts `vcr archiver` (with extra environment, e.g. VCR_UDP_NATIVE=0) and resolves once it answers a control session. */
export async function startArchiver(dir: string, control?: string, env: Record<string, string> = {}): Promise<ArchiverProcess> {
  const endpoint = control ?? `127.0.0.1:${await freeUdpPort()}`;
  const child = spawn(process.execPath, [vcrBin, 'archiver', '--dir', dir, '--control', endpoint], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const a = new ArchiverProcess(child, dir, endpoint);
  started.push(a);
  await until('the archiver to answer', 20_000, async () => {
    if (!a.running) throw new Error(`archiver exited: ${a.stderr.slice(-2000)}`);
    const c = await ArchiveClient.connect({ archiver: endpoint, timeoutMs: 200, attempts: 1 });
    await c.close();
    return true;
  });
  return a;
}

export async function stopAll(): Promise<void> {
  await Promise.all(started.map((a) => a.kill('SIGKILL')));
  started.length = 0;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.length = 0;
}

/** A UDP socket that records what arrives and when (monotonic ns). */
export class Listener {
  readonly received: { payload: Buffer; atNs: bigint }[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (payload) => this.received.push({ payload, atNs: process.hrtime.bigint() }));
  }

  static async open(): Promise<Listener> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Listener(s);
  }

  get uri(): string {
    return `udp://127.0.0.1:${this.socket.address().port}`;
  }

  close(): void {
    this.socket.close();
  }
}

export async function sendDatagrams(port: number, payloads: Buffer[], gapsMs: number[]): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (let i = 0; i < payloads.length; i++) {
      if (i > 0 && gapsMs[i - 1]! > 0) await sleep(gapsMs[i - 1]!);
      await new Promise<void>((r, j) => s.send(payloads[i]!, port, '127.0.0.1', (err) => (err ? j(err) : r())));
    }
  } finally {
    s.close();
  }
}

export const jsonLines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/** The exit code of a child process, or 'still running' if it has not exited within timeoutMs. */
export function exitWithin(child: ChildProcess, timeoutMs: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('still running'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

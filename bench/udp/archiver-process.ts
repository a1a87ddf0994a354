/**
 * A real archiver process for the UDP benchmarks (`node bin/vcr.js archiver`), driven through
 * the client library: start it on a directory with an ephemeral control port (read back from
 * its "archiver started" log line), start recordings, read its counters and its memory.
 * Also: free UDP ports for sources (one, or a consecutive range for the multi-port sender).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ArchiveClient } from '../../src/client/index.js';
import { tempDir, trackChild } from './cleanup.js';
import { repoRoot, type CountingReceiver } from './harness.js';

export interface ArchiverProcess {
  readonly pid: number;
  readonly controlPort: number;
  readonly client: ArchiveClient;
  /** Counter value by name (`events`, `channel.NAME.events`, ...); 0 when absent. */
  counter(name: string): Promise<number>;
  counters(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/**
 * The vcr executable the benchmarks run: bin/vcr.js of this checkout, or the one named by
 * VCR_BENCH_ARCHIVER_BIN (to measure a patched build against the same harness).
 */
export function archiverBin(): string {
  return process.env.VCR_BENCH_ARCHIVER_BIN || join(repoRoot, 'bin/vcr.js');
}

/** `config`: an archiver config document (docs: --config FILE), written to a temp file. */
export async function startArchiver(dir: string, opts: { startTimeoutMs?: number; config?: Record<string, unknown> } = {}): Promise<ArchiverProcess> {
  const configArgs: string[] = [];
  if (opts.config) {
    const file = join(tempDir('config'), 'archiver.json');
    writeFileSync(file, JSON.stringify(opts.config));
    configArgs.push('--config', file);
  }
  const child: ChildProcess = trackChild(
    spawn(process.execPath, [archiverBin(), 'archiver', '--dir', dir, '--control', '127.0.0.1:0', '--log-level', 'info', ...configArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  const controlPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the archiver did not start in time')), opts.startTimeoutMs ?? 20_000);
    const lines = createInterface({ input: child.stderr! });
    let tail = '';
    lines.on('line', (line) => {
      tail = (tail + '\n' + line).slice(-2000);
      try {
        const o = JSON.parse(line) as { msg?: string; control?: string };
        if (o.msg === 'archiver started' && typeof o.control === 'string') {
          clearTimeout(timer);
          resolve(Number(o.control.split(':').pop()));
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the archiver exited (${code}) before it started:${tail}`));
    });
  });
  const client = await ArchiveClient.connect({ archiver: `127.0.0.1:${controlPort}` });
  const counters = async (): Promise<Map<string, number>> => {
    const s = await client.stats();
    const m = new Map<string, number>();
    for (const [k, v] of s.counters) m.set(k, Number(v));
    return m;
  };
  return {
    pid: child.pid!,
    controlPort,
    client,
    counters,
    async counter(name) {
      return (await counters()).get(name) ?? 0;
    },
    async stop() {
      await client.close().catch(() => undefined);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The archiver recording `udp://127.0.0.1:PORT` as channel `name`, seen as a CountingReceiver. */
export async function archiverReceiver(ar: ArchiverProcess, channel: string, port: number): Promise<CountingReceiver & { recordingId: number }> {
  const recordingId = await ar.client.startRecording({ channel, source: `udp://127.0.0.1:${port}` });
  return {
    name: 'archiver',
    port,
    recordingId,
    count: () => ar.counter(`channel.${channel}.events`),
    stop: () => ar.stop(),
  };
}

export interface MemoryStatus {
  /** VmRSS: resident now (anonymous + file-backed + shared), bytes */
  rss: number;
  /** VmHWM: peak VmRSS so far, bytes */
  hwm: number;
  /** RssAnon: heap, stacks and other private memory, bytes */
  anon: number;
  /** RssFile: resident pages of mapped files (the mapped segments), bytes */
  file: number;
}

/** Memory of a process from /proc/PID/status (undefined when it is gone). */
export function memoryOf(pid: number): MemoryStatus | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free UDP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export async function freeUdpPort(): Promise<number> {
  return freeUdpPortRange(1);
}

/** The first of `n` consecutive free UDP ports on 127.0.0.1, outside the ephemeral range. */
export async function freeUdpPortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await canBind(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free UDP ports found`);
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (undefined when it is gone). */
export function cpuSecondsOf(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // fields after "pid (comm) ": state is field 3, utime 14, stime 15 (clock ticks, 100 a second on Linux)
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

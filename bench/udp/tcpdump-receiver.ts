/**
 * `tcpdump -w` as a third receiver of the record benchmark: it captures the benchmark's stream
 * on the loopback interface into a pcap file (nothing is bound to the port, so the kernel
 * discards the datagrams after the capture tap). Its count is tcpdump's own "packets
 * captured", asked for with SIGUSR1. libpcap hands packets over in blocks retired at most
 * every second, so the count is only final after a longer quiet period than the others.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { trackChild } from './cleanup.js';
import type { CountingReceiver } from './harness.js';

/** Why tcpdump cannot be used here, or undefined when it can. */
export function tcpdumpUnavailable(): string | undefined {
  const r = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (r.error) return 'tcpdump is not installed (apt-get install -y tcpdump)';
  return undefined;
}

export async function startTcpdumpReceiver(dir: string, port: number, bufferKiB: number): Promise<CountingReceiver> {
  const file = join(dir, `capture-${port}.pcap`);
  const child = trackChild(
    spawn('tcpdump', ['-i', 'lo', '-n', '-B', String(bufferKiB), '-w', file, `udp and dst port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  const lines = createInterface({ input: child.stderr! });
  const waiting: Array<(n: number) => void> = [];
  let listening: (() => void) | undefined;
  let tail = '';
  lines.on('line', (line) => {
    tail = (tail + '\n' + line).slice(-1000);
    if (line.includes('listening on')) listening?.();
    const m = /(\d+) packets? captured/.exec(line);
    if (m) waiting.shift()?.(Number(m[1]));
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start listening:${tail}`)), 10_000);
    listening = () => {
      clearTimeout(t);
      resolve();
    };
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`tcpdump exited (${code}):${tail}`));
    });
  });
  return {
    name: 'tcpdump -w',
    port,
    quietMs: 1500,
    count() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`tcpdump has exited:${tail}`));
      const p = new Promise<number>((r) => waiting.push(r));
      child.kill('SIGUSR1');
      return p;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

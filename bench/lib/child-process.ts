/**
 * Child processes of the end-to-end benchmarks: a Node script that answers with one JSON
 * line (a reader in its own process, as a user's program would be), and a timed command
 * (the `vcr` CLI, a baseline program) measured from spawn to exit. Every child is tracked
 * (bench/udp/cleanup.ts) so it is killed by pid if the benchmark ends early, and each has a
 * time limit.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { trackChild } from '../udp/cleanup.js';

export interface TimedRun {
  seconds: number;
  exitCode: number | null;
  /** newline count of stdout when it was counted */
  lines: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command args` and times it from spawn to exit. stdout goes to /dev/null
 * ('devnull', as `> /dev/null` would), is counted line by line ('count', kept up to 64 KiB),
 * or is kept whole ('keep').
 */
export function timedRun(command: string, args: string[], opts: { stdout?: 'devnull' | 'count' | 'keep'; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<TimedRun> {
  const mode = opts.stdout ?? 'keep';
  const devnull = mode === 'devnull' ? openSync('/dev/null', 'w') : -1;
  const stdio: StdioOptions = ['ignore', mode === 'devnull' ? devnull : 'pipe', 'pipe'];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = trackChild(spawn(command, args, { stdio, env: opts.env ?? process.env }));
    if (devnull >= 0) closeSync(devnull);
    let lines = 0;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      if (mode === 'count') {
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
        if (stdout.length < 65_536) stdout += d.toString();
      } else stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs ?? 300_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, exitCode: code, lines, stdout, stderr });
    });
  });
}

/** Runs a Node script (with `nodeArgs` for node itself) that prints one JSON line as its answer; rejects on failure. */
export async function runJsonChild<T>(script: string, args: string[], timeoutMs = 300_000, nodeArgs: string[] = []): Promise<T> {
  const r = await timedRun(process.execPath, [...nodeArgs, script, ...args], { stdout: 'keep', timeoutMs });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.exitCode !== 0 || !line.startsWith('{')) {
    const why = r.stderr.trim().split('\n').filter((l) => !/^\s+at /.test(l)).slice(-6).join(' | ');
    throw new Error(`${script} failed (exit ${r.exitCode ?? 'killed'}): ${why || line}`);
  }
  return JSON.parse(line) as T;
}

/** Runs the real `vcr` executable (compiled JavaScript) as a child process. */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../..');
export const vcrBin = resolve(repoRoot, 'bin/vcr.js');

export function runVcr(args: string[], opts: { input?: string | Buffer; timeoutMs?: number; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [vcrBin, ...args], {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    cwd: opts.cwd ?? repoRoot,
  });
}

export function spawnVcr(args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [vcrBin, ...args], { cwd: opts.cwd ?? repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
}

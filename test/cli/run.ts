/** Runs the compiled `vcr` asynchronously (so an in-process fake archiver can answer it). */
import { spawn } from 'node:child_process';
import { repoRoot, vcrBin } from '../helpers/cli.js';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function vcr(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vcrBin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.once('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

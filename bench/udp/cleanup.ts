/**
 * Process and temp-dir hygiene for the UDP benchmarks: every child process and temp dir a
 * benchmark creates is registered here, and is killed / removed when the benchmark ends,
 * whether it ends normally, by an exception, by a signal, or by its own deadline. Children
 * are killed by their pid (SIGKILL), never by name.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import os from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A tracked temp dir under `base` (default: the system temp dir). */
export function tempDir(prefix: string, base = tmpdir()): string {
  const d = mkdtempSync(join(base, `vcr-bench-${prefix}-`));
  dirs.add(d);
  return d;
}

/** Kills every tracked child still running and removes every tracked dir (idempotent, sync). */
export function cleanupNow(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const d of dirs) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // best effort: a temp dir left behind is not worth a crash
    }
  }
  dirs.clear();
}

/**
 * Cleans up on exit, on SIGINT/SIGTERM/SIGHUP, on an uncaught error, and after `deadlineMs`
 * (then exits 1 with a message naming the benchmark): no benchmark runs unbounded.
 */
export function installCleanup(name: string, deadlineMs: number): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      cleanupNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
  const t = setTimeout(() => {
    process.stderr.write(`${name}: deadline of ${Math.round(deadlineMs / 1000)} s reached, stopping\n`);
    cleanupNow();
    process.exit(1);
  }, deadlineMs);
  t.unref();
}

/**
 * Raises this process's scheduling priority (children inherit it) so that the neighbours'
 * builds and tests on the shared machine disturb the comparison less; every process of the
 * comparison gets the same boost, so the ratio stays fair. Returns what was done, for the report.
 */
export function boostPriority(nice: number): string {
  try {
    os.setPriority(nice);
    return `nice ${os.getPriority()}`;
  } catch (err) {
    return `nice unchanged (${(err as Error).message})`;
  }
}

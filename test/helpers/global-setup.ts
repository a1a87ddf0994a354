/**
 * Integration tests run the real compiled CLI (bin/vcr.js -> dist/). Build once before the
 * run (incremental, so it costs little when nothing changed). Type errors are reported by
 * `npm run typecheck`, not here: tsc still emits, and tests then show what is broken.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export default function setup(): void {
  if (process.env.VCR_SKIP_BUILD === '1') return;
  const root = resolve(__dirname, '../..');
  const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0 && r.stdout) process.stderr.write(`[global-setup] tsc reported:\n${r.stdout.slice(0, 4000)}\n`);
}

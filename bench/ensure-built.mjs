// `npm run bench` step 1: compiles the TypeScript (tsconfig.build.json) when dist/ is missing
// or older than any source, so the benchmarks never measure a stale build and a clean clone
// works; an up-to-date tree costs a directory walk, not a 20 s compile.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let stale;
function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (stale) return;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const out = join(root, 'dist', relative(root, p)).replace(/\.ts$/, '.js');
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) stale = relative(root, p);
    }
  }
}
for (const d of ['src', 'tools', 'codecs', 'bench']) if (existsSync(join(root, d))) walk(join(root, d));
if (stale) {
  process.stderr.write(`bench: dist/ is older than ${stale}; building (tsc -p tsconfig.build.json)\n`);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!existsSync(join(root, 'native', 'build', 'Release', 'vcr_udp.node'))) {
  process.stderr.write('bench: the native UDP addon is not built (npm run build:native): UDP figures measure the node:dgram fallback\n');
}

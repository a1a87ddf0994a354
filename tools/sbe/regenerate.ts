/**
 * `npm run sbe:gen`: regenerates every `codecs/*.xml` into `codecs/generated/<basename>/`.
 * `npm run sbe:check` (`--check`): generates in memory and exits 1 naming every generated
 * file that differs from the committed one, is missing, or is extra (CI runs it).
 * `--codecs DIR` works on another directory laid out like codecs/ (used by the tests).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { rootTag } from './xml.js';
import { runtimeFile } from './gen/generate.js';
import { compareGenerated, compareGeneratedFile, generateFromFile, repoRoot, writeGenerated, writeGeneratedFile } from './output.js';

/** Every schema's set imports one runtime written beside the sets (codecs/generated/SbeRuntime.ts). */
const SHARED_RUNTIME = '../SbeRuntime.js';

function isSchema(path: string): boolean {
  try {
    return rootTag(path) === 'messageSchema';
  } catch {
    return true; // let generation report the problem
  }
}

function main(argv: string[]): number {
  let check = false;
  let codecsDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check') check = true;
    else if (argv[i] === '--codecs' && argv[i + 1] !== undefined) codecsDir = argv[++i];
    else {
      process.stderr.write(`usage: regenerate [--check] [--codecs DIR]\nunknown argument: ${argv[i]}\n`);
      return 2;
    }
  }
  const root = repoRoot();
  const codecs = codecsDir !== undefined ? resolve(codecsDir) : join(root, 'codecs');
  // XML files whose root is not a messageSchema are pieces other schemas include.
  const schemas = existsSync(codecs)
    ? readdirSync(codecs).filter((n) => n.endsWith('.xml') && isSchema(join(codecs, n))).sort()
    : [];
  let failed = false;
  const expectedDirs = new Set<string>();
  for (const name of schemas) {
    const schema = join(codecs, name);
    const outDir = join(codecs, 'generated', basename(name, '.xml'));
    expectedDirs.add(basename(name, '.xml'));
    let files;
    try {
      files = generateFromFile(schema, root, { sharedRuntime: SHARED_RUNTIME });
    } catch (err) {
      process.stderr.write(`${relative(root, schema)}: ${(err as Error).message}\n`);
      failed = true;
      continue;
    }
    if (check) {
      const problems = compareGenerated(outDir, files);
      for (const p of problems) process.stderr.write(`${relative(root, schema)}: ${p.replace(root + '/', '')}\n`);
      if (problems.length) failed = true;
    } else {
      writeGenerated(outDir, files);
      process.stdout.write(`${relative(root, schema)} -> ${relative(root, outDir)}/ (${files.length} files)\n`);
    }
  }
  const genDir = join(codecs, 'generated');
  if (schemas.length > 0) {
    if (check) {
      const problem = compareGeneratedFile(genDir, runtimeFile());
      if (problem !== undefined) {
        process.stderr.write(`${problem.replace(root + '/', '')}\n`);
        failed = true;
      }
    } else {
      writeGeneratedFile(genDir, runtimeFile());
    }
  }
  if (check) {
    const dirs = existsSync(genDir) ? readdirSync(genDir, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
    for (const d of dirs) {
      if (!expectedDirs.has(d.name)) {
        process.stderr.write(`extra: ${relative(root, join(genDir, d.name))}/ has no ${d.name}.xml\n`);
        failed = true;
      }
    }
    if (!failed) process.stdout.write(`generated codecs are up to date (${schemas.length} schemas)\n`);
  }
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));

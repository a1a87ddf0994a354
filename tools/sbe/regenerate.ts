/**
 * `npm run sbe:gen`: regenerates every `codecs/*.xml` into `codecs/generated/<basename>/`.
 * `npm run sbe:check` (`--check`): generates in memory and exits 1 naming every generated
 * file that differs from the committed one, is missing, or is extra (CI runs it).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { compareGenerated, generateFromFile, repoRoot, writeGenerated } from './output.js';

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length) {
    process.stderr.write(`usage: regenerate [--check]\nunknown argument: ${unknown.join(' ')}\n`);
    return 2;
  }
  const root = repoRoot();
  const codecs = join(root, 'codecs');
  const schemas = existsSync(codecs) ? readdirSync(codecs).filter((n) => n.endsWith('.xml')).sort() : [];
  let failed = false;
  const expectedDirs = new Set<string>();
  for (const name of schemas) {
    const schema = join(codecs, name);
    const outDir = join(codecs, 'generated', basename(name, '.xml'));
    expectedDirs.add(basename(name, '.xml'));
    let files;
    try {
      files = generateFromFile(schema, root);
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
  if (check) {
    const genDir = join(codecs, 'generated');
    const dirs = existsSync(genDir) ? readdirSync(genDir, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
    for (const d of dirs) {
      if (!expectedDirs.has(d.name)) {
        process.stderr.write(`extra: codecs/generated/${d.name}/ has no codecs/${d.name}.xml\n`);
        failed = true;
      }
    }
    if (!failed) process.stdout.write(`generated codecs are up to date (${schemas.length} schemas)\n`);
  }
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));

/**
 * A fresh clone passes its own tests with nothing beside it: no tracked file outside docs/
 * reads or names the development machine's shared directory (fixtures live in
 * test/fixtures/). The pattern is assembled at run time so this file does not match itself.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { repoRoot } from './helpers.js';

const OUTSIDE = ['..', 'shared'].join('/');

function trackedFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' });
  expect(r.status, `git ls-files failed: ${r.stderr}`).toBe(0);
  return r.stdout.split('\0').filter((f) => f !== '');
}

describe('self-contained repository', () => {
  it(`no tracked file other than docs/ names ${OUTSIDE}`, () => {
    const offenders = trackedFiles()
      .filter((f) => !f.startsWith('docs/'))
      .filter((f) => existsSync(resolve(repoRoot, f)))
      .filter((f) => readFileSync(resolve(repoRoot, f)).includes(OUTSIDE));
    expect(offenders).toEqual([]);
  });

  it('the SBE fixtures the tests read are in the repository', () => {
    const tracked = new Set(trackedFiles());
    for (const f of ['example-schema.xml', 'common-types.xml', 'example-extension-schema.xml',
      'example-bigendian-test-schema.xml', 'car_example_baseline_data.sbe', 'car_example_extension_data.sbe',
      'car_example-bigendian-test-schema.be.211.bin', 'README.md']) {
      expect(tracked.has(`test/fixtures/sbe/${f}`), f).toBe(true);
    }
  });
});

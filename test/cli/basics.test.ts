import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { repoRoot, runVcr } from '../helpers/cli.js';

describe('vcr executable', () => {
  it('prints help naming the program and exits 0', () => {
    const r = runVcr(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: vcr/);
  });

  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync(resolve(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = runVcr(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('exits 2 on an unknown command or option', () => {
    expect(runVcr(['no-such-command']).status).toBe(2);
    expect(runVcr(['--no-such-flag']).status).toBe(2);
  });
});

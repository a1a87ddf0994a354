/**
 * Generated code type-checks under the project's strict tsconfig: freshly generated codecs
 * for every codecs/*.xml and every test schema (fixtures included), checked by one tsc run.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { generateFromFile, writeGenerated } from '../../tools/sbe/output.js';
import { rootTag } from '../../tools/sbe/xml.js';
import { repoRoot, TEST_CODECS } from './helpers.js';

describe('generated code', () => {
  it('type-checks under the strict tsconfig (tsc --noEmit)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbe-tsc-'));
    try {
      const codecs = resolve(repoRoot, 'codecs');
      const schemas = existsSync(codecs) ? readdirSync(codecs).filter((f) => f.endsWith('.xml') && rootTag(join(codecs, f)) === 'messageSchema').map((f) => join(codecs, f)) : [];
      const all = [...schemas, ...TEST_CODECS.map((t) => t.schema)];
      all.forEach((schema, i) => writeGenerated(join(dir, `${i}-${basename(schema, '.xml')}`), generateFromFile(schema, repoRoot)));
      // A use site, so the public API shapes are checked too (not only the files themselves).
      const base = `./${TEST_CODECS.findIndex((t) => t.out.endsWith('baseline')) + schemas.length}-example-schema/index.js`;
      writeFileSync(join(dir, 'use.ts'), `import { CarDecoder, CarEncoder, MessageHeaderDecoder, MessageHeaderEncoder, BooleanType } from '${base}';
const buf = Buffer.alloc(256);
const e = new CarEncoder().wrapAndApplyHeader(buf, 0, new MessageHeaderEncoder());
e.serialNumber(1n).modelYear(2013).available(BooleanType.T).vehicleCode('abc');
e.extras().clear().cruiseControl(true);
const d = new CarDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
const s: bigint = d.serialNumber();
const y: number = d.modelYear();
for (const f of d.fuelFigures()) { const speed: number = f.speed(); void speed; }
const m: string = d.manufacturer();
void s; void y; void m;
`);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        extends: resolve(repoRoot, 'tsconfig.json'),
        compilerOptions: { noEmit: true, rootDir: dir, typeRoots: [resolve(repoRoot, 'node_modules/@types')] },
        include: [`${dir}/**/*.ts`],
      }));
      const tsc = resolve(repoRoot, 'node_modules/typescript/bin/tsc');
      const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Paths and the list of schemas whose generated codecs are committed under test/sbe/generated. */
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../..');
/** The reference vectors (provenance and licence: test/fixtures/sbe/README.md). */
export const fixturesDir = resolve(repoRoot, 'test/fixtures/sbe');
export const schemasDir = resolve(__dirname, 'schemas');
export const generatedDir = resolve(__dirname, 'generated');

export const fixture = (name: string): string => resolve(fixturesDir, name);

/** Schema -> committed output directory (kept fresh by codegen-fresh.test.ts). */
export const TEST_CODECS: { schema: string; out: string }[] = [
  { schema: fixture('example-schema.xml'), out: resolve(generatedDir, 'baseline') },
  { schema: fixture('example-extension-schema.xml'), out: resolve(generatedDir, 'extension') },
  { schema: fixture('example-bigendian-test-schema.xml'), out: resolve(generatedDir, 'bigendian') },
  { schema: resolve(schemasDir, 'features.xml'), out: resolve(generatedDir, 'features') },
  { schema: resolve(schemasDir, 'features-be.xml'), out: resolve(generatedDir, 'features-be') },
];

import { defineConfig } from 'vitest/config';

// Tests run from TypeScript sources; integration tests spawn the compiled CLI (dist/),
// which `npm ci` builds through `prepare` (test/helpers/global-setup.ts builds it once before the run).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
  },
});

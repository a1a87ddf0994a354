import { defineConfig } from 'vitest/config';

// Tests run from TypeScript sources; integration tests spawn the compiled CLI (dist/),
// which `npm ci` builds through `prepare` (test/helpers/global-setup.ts builds it once before the run).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // three workers on two cores: most integration time is waiting (leases, grace, real
    // processes starting), so a third file in flight shortens the run without starving tests
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
  },
});

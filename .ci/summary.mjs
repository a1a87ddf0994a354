// Reads vitest's JSON report and prints the one-line summary CI expects. A failed
// generated-code check counts as one failed test, so it cannot hide behind green tests.
import { readFileSync } from 'node:fs';

const [, , reportPath, sbeStatus = '0'] = process.argv;
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(reportPath, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0) - countSuitesWithFailedTests(r);
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
} catch (err) {
  failed += 1;
  console.error(`no test report at ${reportPath}: ${err.message}`);
}
if (sbeStatus !== '0') failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);

function countSuitesWithFailedTests(r) {
  // a suite that failed only because its tests failed is already counted through them
  return (r.testResults ?? []).filter(
    (s) => s.status === 'failed' && (s.assertionResults ?? []).some((a) => a.status === 'failed'),
  ).length;
}

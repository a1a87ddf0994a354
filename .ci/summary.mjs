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
  // a test file that failed without a failed test (it did not load, a hook threw) counts once
  failed = (r.numFailedTests ?? 0) + filesFailedWithoutFailedTests(r);
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
} catch (err) {
  failed += 1;
  console.error(`no test report at ${reportPath}: ${err.message}`);
}
if (sbeStatus !== '0') failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);

function filesFailedWithoutFailedTests(r) {
  // numFailedTestSuites also counts describe blocks: count failed files from testResults instead
  return (r.testResults ?? []).filter(
    (s) => s.status === 'failed' && !(s.assertionResults ?? []).some((a) => a.status === 'failed'),
  ).length;
}

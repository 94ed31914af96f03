// Prints the closing line CI reads, "N passed, N failed", from Vitest's JSON report (plus the
// chaos suite as one test when it ran: `passed` or `failed` as the second argument), and exits
// non-zero when a test failed or the report is missing (a run that crashed counts as failed).
import { existsSync, readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'reports/vitest.json';
const chaos = process.argv[3] ?? 'skipped';
const chaosPassed = chaos === 'passed' ? 1 : 0;
const chaosFailed = chaos === 'failed' ? 1 : 0;
if (!existsSync(path)) {
  console.log(`${chaosPassed} passed, ${1 + chaosFailed} failed`);
  console.error(`test-summary: no report at ${path}: the test run did not finish`);
  process.exit(1);
}
const report = JSON.parse(readFileSync(path, 'utf8')) as {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
};
// A file that fails to load has no failed test but a failed suite: count it as a failure.
const failed =
  report.numFailedTests + (report.numFailedTests === 0 ? report.numFailedTestSuites : 0) + chaosFailed;
const skipped = report.numPendingTests + report.numTodoTests;
const passed = report.numPassedTests + chaosPassed;
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);

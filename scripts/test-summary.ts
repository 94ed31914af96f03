// Prints the closing line CI reads, "N passed, N failed", from Vitest's JSON report plus the
// checks that run outside Vitest, each counted as one test: `name=passed|failed|skipped`
// arguments (lint, typecheck, the card-number scan after the suite, the chaos suite; a bare
// status is the chaos suite's). Exits non-zero when anything failed or the report is missing (a
// run that crashed counts as failed).
import { existsSync, readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'reports/vitest.json';
const checks = process.argv.slice(3).map((arg) => {
  const [name, status] = arg.includes('=') ? arg.split('=', 2) : ['chaos', arg];
  return { name: name ?? '', status: status ?? 'skipped' };
});
const checksPassed = checks.filter((check) => check.status === 'passed').length;
const checksFailed = checks.filter((check) => check.status === 'failed');
for (const check of checksFailed) console.error(`test-summary: ${check.name} failed`);
if (!existsSync(path)) {
  console.log(`${checksPassed} passed, ${1 + checksFailed.length} failed`);
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
  report.numFailedTests +
  (report.numFailedTests === 0 ? report.numFailedTestSuites : 0) +
  checksFailed.length;
const skipped = report.numPendingTests + report.numTodoTests;
const passed = report.numPassedTests + checksPassed;
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);

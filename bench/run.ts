import { loadConfig } from '@ctp/core/config';
import { measureBatch, printBatch } from './batch.ts';
import { measureRawBullmq } from './bullmq-raw.ts';
import { measureEndToEnd, prepareEndToEnd } from './e2e.ts';
import { type LoadResult, loadPlan, measureSideBySide, printLoad } from './harness.ts';
import { prepareNaive } from './naive.ts';
import { formatReconciliation, measureReconciliation } from './reconcile.ts';
import { formatScans, measureScans } from './scans.ts';
import { measureTracedEndToEnd, printTracing } from './tracing.ts';
import { measureWorkerScaling } from './workers.ts';

// `pnpm bench`: every figure is reported against a baseline measured in the same run, on the
// same machine, so a slower or busier machine changes both sides alike.

const config = loadConfig(process.env);
const operations = Number(process.env.BENCH_OPERATIONS ?? 2000);
const MIN_NAIVE_OPERATIONS_FOR_BATCH_RATIO = 2000;

const raw = await measureRawBullmq(config.REDIS_URL, 20_000, config.WORKER_CONCURRENCY);
console.log(`bullmq no-op jobs/s (added in bulk, then processed): ${raw.jobsPerSecond.toFixed(0)}`);
const streaming = await measureRawBullmq(config.REDIS_URL, 20_000, config.WORKER_CONCURRENCY, 'streaming');
console.log(`bullmq no-op jobs/s (added one by one while processed): ${streaming.jobsPerSecond.toFixed(0)}`);

// The real pipeline and the naive baseline (`naive-app.ts`) on the same simulator settings and
// load, both running at once and measured in turns, so both see the machine's same minutes
// (`loadPlan`). BENCH_NAIVE=0 leaves the naive run (and the ratio against it) out.
const plan = loadPlan(operations);
const [e2e, naive = null] =
  process.env.BENCH_NAIVE === '0'
    ? [await measureEndToEnd(config.DATABASE_URL, config.REDIS_URL, plan)]
    : ((await measureSideBySide(
        [
          () => prepareEndToEnd(config.DATABASE_URL, config.REDIS_URL, plan),
          () => prepareNaive(config.DATABASE_URL, config.REDIS_URL, plan),
        ],
        plan,
      )) as [LoadResult, LoadResult]);
printLoad('e2e', 'API call to notification', e2e);
if (naive) printLoad('naive', 'same I/O, no outbox, locks, validation or idempotency', naive);
// BENCH_COMPARE_WORKERS=<n>: the real pipeline with one worker against the same with n workers,
// measured in turns (issue 13: n workers are not slower than one).
const compareWorkers = Number(process.env.BENCH_COMPARE_WORKERS ?? 0);
if (Number.isInteger(compareWorkers) && compareWorkers > 1) {
  const { one, many } = await measureWorkerScaling(
    config.DATABASE_URL,
    config.REDIS_URL,
    plan,
    compareWorkers,
  );
  printLoad('e2e-1-worker', 'API call to notification, one worker', one);
  printLoad(`e2e-${compareWorkers}-workers`, `API call to notification, ${compareWorkers} workers`, many);
  console.log(
    `ratio e2e ${compareWorkers} workers/1 worker: ${(many.opsPerSecond / one.opsPerSecond).toFixed(3)}`,
  );
}
// The batch phase (issue 14): BENCH_BATCH_ITEMS customers with their cards in one NDJSON batch
// (0 leaves it out), against the naive baseline of this run.
const batchItems = Number(process.env.BENCH_BATCH_ITEMS ?? 10_000);
const batch = batchItems > 0 ? await measureBatch(config.DATABASE_URL, config.REDIS_URL, batchItems) : null;
if (batch) printBatch(batch);
// BENCH_TRACING=1: the e2e run again with OpenTelemetry exporting from every process.
if (process.env.BENCH_TRACING === '1') {
  printTracing(await measureTracedEndToEnd(config.DATABASE_URL, config.REDIS_URL, plan), e2e);
}

// The scans of unfinished work stay flat however much finished work the tables hold
// (BENCH_SCANS=0 leaves them out, for a quicker run when only the load figures matter).
if (process.env.BENCH_SCANS !== '0') console.log(formatScans(await measureScans(config.DATABASE_URL)));

// The reconciliation rate and its CPU per entity (BENCH_RECONCILE=0 leaves it out).
if (process.env.BENCH_RECONCILE !== '0') {
  const entities = Number(process.env.BENCH_RECONCILE_ENTITIES ?? 2000);
  console.log(formatReconciliation(await measureReconciliation(config.DATABASE_URL, entities)));
}

console.log(`ratio e2e/bullmq-streaming: ${(e2e.opsPerSecond / streaming.jobsPerSecond).toFixed(3)}`);
console.log(`ratio e2e/bullmq: ${(e2e.opsPerSecond / raw.jobsPerSecond).toFixed(3)}`);
if (batch && naive) {
  // A naive run of a few hundred operations is mostly warm-up (119/s at 200 against 180–238/s at
  // 3,000, BENCHMARKS.md fifth session): a ratio against it says nothing, and says so.
  const warning =
    operations < MIN_NAIVE_OPERATIONS_FOR_BATCH_RATIO
      ? ` (not comparable: the naive run had ${operations} operations, under ${MIN_NAIVE_OPERATIONS_FOR_BATCH_RATIO})`
      : '';
  console.log(`ratio batch/naive: ${(batch.enrolmentsPerSecond / naive.opsPerSecond).toFixed(3)}${warning}`);
}
// Last, the yardstick of issue 13: the real pipeline against the naive one with the same I/O.
if (naive) console.log(`ratio e2e/naive: ${(e2e.opsPerSecond / naive.opsPerSecond).toFixed(3)}`);
process.exit(0);

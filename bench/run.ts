import { loadConfig } from '@ctp/core/config';
import { type BatchResult, measureBatch, printBatch } from './batch.ts';
import { measureRawBullmq } from './bullmq-raw.ts';
import { measureEndToEnd, prepareEndToEnd } from './e2e.ts';
import {
  type LoadResult,
  loadPlan,
  measureLoads,
  measureSliceRate,
  type PreparedTarget,
  printLoad,
  type SliceRate,
} from './harness.ts';
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
// (`loadPlan`). BENCH_NAIVE=0 leaves the naive run (and the ratios against it) out.
//
// The batch phase (issue 14): BENCH_BATCH_ITEMS customers with their cards in one NDJSON batch
// (0 leaves it out). Its ratio is taken against naive slices run just before and just after it
// (BENCH_BATCH_BRACKET operations each, after a warm-up of BRACKET_WARMUP), each side idling
// while the other runs and the real pipeline stopped: the batch lasts 40 s or more, and against
// the maximum-rate slices of minutes earlier the same code gave ratios of 0.65 to 1.02.
const plan = loadPlan(operations);
const withNaive = process.env.BENCH_NAIVE !== '0';
const batchItems = Number(process.env.BENCH_BATCH_ITEMS ?? 10_000);
const bracket = Number(process.env.BENCH_BATCH_BRACKET ?? 1000);
const BRACKET_WARMUP = 300;
const bracketed = withNaive && batchItems > 0 && Number.isInteger(bracket) && bracket > 0;
const runBatch = (naiveSlice?: () => Promise<SliceRate>) =>
  measureBatch(config.DATABASE_URL, config.REDIS_URL, batchItems, naiveSlice);

let e2e: LoadResult;
let naive: LoadResult | null = null;
let batch: BatchResult | null = null;
let around: readonly [before: SliceRate, after: SliceRate] | null = null;
if (!withNaive) {
  e2e = await measureEndToEnd(config.DATABASE_URL, config.REDIS_URL, plan);
} else {
  const open: PreparedTarget[] = [];
  try {
    const real = await prepareEndToEnd(config.DATABASE_URL, config.REDIS_URL, plan);
    open.push(real);
    const spare = bracketed ? 2 * (BRACKET_WARMUP + bracket) : 0;
    const naivePipeline = await prepareNaive(config.DATABASE_URL, config.REDIS_URL, plan, spare);
    open.push(naivePipeline);
    [e2e, naive] = (await measureLoads([real.target, naivePipeline.target], plan)) as [
      LoadResult,
      LoadResult,
    ];
    if (bracketed) {
      // The real pipeline's part is over: it does not idle through the batch.
      open.splice(open.indexOf(real), 1);
      await real.close();
      const ids = naivePipeline.spareIds;
      const part = (n: number) =>
        ids.slice(n * (BRACKET_WARMUP + bracket), (n + 1) * (BRACKET_WARMUP + bracket));
      const slice = (n: number) =>
        measureSliceRate(
          naivePipeline.target,
          part(n).slice(0, BRACKET_WARMUP),
          part(n).slice(BRACKET_WARMUP),
        );
      let side = 0;
      ({ around, ...batch } = await runBatch(() => slice(side++)));
    }
  } finally {
    for (const prepared of open.reverse()) await prepared.close();
  }
}
printLoad('e2e', 'API call to notification', e2e);
if (naive) printLoad('naive', 'same I/O, no outbox, locks, validation or idempotency', naive);
if (batchItems > 0 && batch === null) batch = await runBatch();
if (batch) printBatch(batch);
const rateOf = (...slices: readonly SliceRate[]) =>
  slices.reduce((n, s) => n + s.operations, 0) / slices.reduce((t, s) => t + s.seconds, 0);
const aroundRate = around === null ? null : rateOf(...around);
if (around !== null && aroundRate !== null) {
  console.log(
    `naive registrations/s around the batch (${around[0].operations} operations just before it, ${around[1].operations} just after, the batch's processes idle): ${aroundRate.toFixed(0)} (before ${rateOf(around[0]).toFixed(0)}, after ${rateOf(around[1]).toFixed(0)})`,
  );
}
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
  console.log(
    `ratio batch/naive against the naive maximum-rate slices of the e2e phase: ${(batch.enrolmentsPerSecond / naive.opsPerSecond).toFixed(3)}${warning}`,
  );
}
if (batch && aroundRate !== null) {
  console.log(`ratio batch/naive: ${(batch.enrolmentsPerSecond / aroundRate).toFixed(3)}`);
}
// Last, the yardstick of issue 13: the real pipeline against the naive one with the same I/O.
if (naive) console.log(`ratio e2e/naive: ${(e2e.opsPerSecond / naive.opsPerSecond).toFixed(3)}`);
process.exit(0);

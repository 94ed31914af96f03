import { loadConfig } from '@ctp/core/config';
import { measureRawBullmq } from './bullmq-raw.ts';
import { measureEndToEnd } from './e2e.ts';
import { formatScans, measureScans } from './scans.ts';

// `pnpm bench`: every figure is reported against a baseline measured in the same run, on the
// same machine, so a slower or busier machine changes both sides alike.

const config = loadConfig(process.env);
const operations = Number(process.env.BENCH_OPERATIONS ?? 2000);

const raw = await measureRawBullmq(config.REDIS_URL, 20_000, config.WORKER_CONCURRENCY);
console.log(`bullmq no-op jobs/s (added in bulk, then processed): ${raw.jobsPerSecond.toFixed(0)}`);
const streaming = await measureRawBullmq(config.REDIS_URL, 20_000, config.WORKER_CONCURRENCY, 'streaming');
console.log(`bullmq no-op jobs/s (added one by one while processed): ${streaming.jobsPerSecond.toFixed(0)}`);

const e2e = await measureEndToEnd(config.DATABASE_URL, config.REDIS_URL, operations);
console.log(
  `e2e registrations/s (API call to notification, ${e2e.operations} operations): ${e2e.opsPerSecond.toFixed(0)}`,
);
console.log(`PostgreSQL commits per operation: ${e2e.commitsPerOperation.toFixed(1)}`);
if (e2e.machineCpuMsPerOperation !== null) {
  console.log(
    `machine CPU per operation (every process, maximum-rate run): ${e2e.machineCpuMsPerOperation.toFixed(1)} ms`,
  );
}
if (e2e.cpuMsPerOperationByProcess !== null) {
  const parts = Object.entries(e2e.cpuMsPerOperationByProcess).map(
    ([name, ms]) => `${name} ${ms.toFixed(1)}`,
  );
  console.log(`  of which, ms per operation: ${parts.join(', ')}`);
}
const half = e2e.halfRate;
console.log(
  `latency at half the maximum rate (${half.rate.toFixed(0)}/s, ${half.operations} operations): p50 ${half.p50.toFixed(0)} ms, p95 ${half.p95.toFixed(0)} ms, p99 ${half.p99.toFixed(0)} ms`,
);
console.log(`ratio e2e/bullmq-streaming: ${(e2e.opsPerSecond / streaming.jobsPerSecond).toFixed(3)}`);
// The scans of unfinished work stay flat however much finished work the tables hold.
console.log(formatScans(await measureScans(config.DATABASE_URL)));
// Last, the figure the issue asks for, against the higher (bulk) baseline.
console.log(`ratio e2e/bullmq: ${(e2e.opsPerSecond / raw.jobsPerSecond).toFixed(3)}`);
process.exit(0);

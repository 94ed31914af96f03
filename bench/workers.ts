import { prepareEndToEnd } from './e2e.ts';
import { type LoadPlan, type LoadResult, measureSideBySide } from './harness.ts';

/**
 * Issue 13's "`BENCH_WORKERS=2` is not slower than one worker", measured as the e2e/naive ratio
 * is: the real pipeline with one worker and the same pipeline with `workers` worker processes
 * (each with its own database, queue prefix and stream), set up side by side and measured in turns
 * (`measureLoads`), so both meet the same minutes. `BENCH_COMPARE_WORKERS=<n>`.
 */
export async function measureWorkerScaling(
  serverUrl: string,
  redisUrl: string,
  plan: LoadPlan,
  workers: number,
): Promise<{ readonly one: LoadResult; readonly many: LoadResult }> {
  const [one, many] = await measureSideBySide(
    [
      () => prepareEndToEnd(serverUrl, redisUrl, plan, 1),
      () => prepareEndToEnd(serverUrl, redisUrl, plan, workers),
    ],
    plan,
  );
  if (one === undefined || many === undefined) throw new Error('no result');
  return { one, many };
}

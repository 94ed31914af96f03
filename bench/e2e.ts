import {
  call,
  checkpointCount,
  customerIds,
  followStream,
  inParallel,
  type LoadPlan,
  type LoadResult,
  measureSideBySide,
  type PreparedTarget,
} from './harness.ts';
import { BENCH_CARD, benchCustomer, commitsOf, startBenchPipeline } from './pipeline.ts';

/**
 * End to end on this machine: the real processes (api, BENCH_WORKERS workers, the SaaS simulator
 * with the settings of `harness.ts`) against a fresh database and a key prefix of their own, each
 * operation from the API call to its notification on the stream.
 */

export type E2eResult = LoadResult;

/** The real pipeline started, with the customers and cards of `plan` recorded through its api. */
export async function prepareEndToEnd(
  serverUrl: string,
  redisUrl: string,
  plan: LoadPlan,
  workers?: number,
): Promise<PreparedTarget> {
  const pipeline = await startBenchPipeline(serverUrl, redisUrl, workers);
  const { api } = pipeline;
  try {
    const ids = customerIds(plan.operations, plan.warmup);
    await inParallel(ids, 32, async (id) => {
      await call(api, 'PUT', `/v1/entities/${id}`, benchCustomer(id));
      await call(api, 'PUT', `/v1/entities/${id}/kits/${id}k`, BENCH_CARD);
    });
    const stream = followStream(pipeline.redis, pipeline.notificationStream);
    return {
      target: {
        ids,
        stream,
        processes: pipeline.processes,
        submit: async (id) => {
          const accepted = await call(api, 'POST', `/v1/ctp/entities/${id}/registration`, {
            kitNo: `${id}k`,
          });
          return String(accepted.operationId);
        },
        commits: () => commitsOf(pipeline.db),
        checkpoints: () =>
          checkpointCount((text) => pipeline.db.orm.em.getConnection().execute<{ n: string }[]>(text)),
      },
      close: async () => {
        await stream.stop();
        await pipeline.close();
      },
    };
  } catch (error) {
    await pipeline.close();
    throw error;
  }
}

/** The real pipeline alone: registrations/s, the CPU they cost, latency at half that rate. */
export async function measureEndToEnd(
  serverUrl: string,
  redisUrl: string,
  plan: LoadPlan,
): Promise<E2eResult> {
  const [result] = await measureSideBySide([() => prepareEndToEnd(serverUrl, redisUrl, plan)], plan);
  if (result === undefined) throw new Error('no result');
  return result;
}

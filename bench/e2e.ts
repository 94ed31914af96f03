import { call, customerIds, followStream, inParallel, type LoadResult, measureLoad } from './harness.ts';
import { BENCH_CARD, benchCustomer, commitsOf, startBenchPipeline } from './pipeline.ts';

/**
 * End to end on this machine: the real processes (api, one worker, the SaaS simulator with the
 * settings of `harness.ts`) against a fresh database and a key prefix of their own. Measures
 * registrations/s from the API call to the notification on the stream, then the latency
 * distribution at half that rate, and the PostgreSQL commits each operation costs.
 */

export type E2eResult = LoadResult;

export async function measureEndToEnd(
  serverUrl: string,
  redisUrl: string,
  operations: number,
): Promise<E2eResult> {
  const pipeline = await startBenchPipeline(serverUrl, redisUrl);
  const { api } = pipeline;
  try {
    const ids = customerIds(operations);
    await inParallel(ids, 32, async (id) => {
      await call(api, 'PUT', `/v1/entities/${id}`, benchCustomer(id));
      await call(api, 'PUT', `/v1/entities/${id}/kits/${id}k`, BENCH_CARD);
    });
    const stream = followStream(pipeline.redis, pipeline.notificationStream);
    try {
      return await measureLoad({
        operations,
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
      });
    } finally {
      await stream.stop();
    }
  } finally {
    await pipeline.close();
  }
}

import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { createMigratedDatabase } from '@ctp/db';
import {
  call,
  customerIds,
  followStream,
  freePort,
  inParallel,
  type LoadResult,
  measureLoad,
  startApp,
  startSimulator,
  stopProcesses,
  waitReady,
} from './harness.ts';

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
  const suffix = randomBytes(4).toString('hex');
  const db = await createMigratedDatabase(serverUrl, 'ctp_bench');
  const [apiPort, simPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  // Workers scale out (the relay and the queues share the work); BENCH_WORKERS of them.
  const workers = Math.max(1, Number(process.env.BENCH_WORKERS ?? 1));
  const webhookUrl = `http://127.0.0.1:${apiPort}/v1/ctp/webhooks/saas`;
  const env = {
    DATABASE_URL: db.databaseUrl,
    REDIS_URL: redisUrl,
    API_PORT: String(apiPort),
    SAAS_SIM_PORT: String(simPort),
    WORKER_PORT: String(workerPort),
    CTP_SAAS_BASE_URL: `http://127.0.0.1:${simPort}`,
    WEBHOOK_URL: webhookUrl,
    QUEUE_PREFIX: `{bench-${suffix}}`,
    NOTIFICATION_STREAM: `bench-notifications-${suffix}`,
    SAAS_RATE_LIMIT_PER_SECOND: '100000',
    API_RATE_LIMIT_PER_SECOND: '1000000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const processes = [
    startSimulator(simPort, webhookUrl, env),
    startApp('api', env),
    startApp('worker', env),
    ...Array.from({ length: workers - 1 }, () => startApp('worker', { ...env, WORKER_PORT: '0' })),
  ];
  const redis = createRedis(redisUrl);
  const api = `http://127.0.0.1:${apiPort}`;
  try {
    await Promise.all([
      waitReady(`http://127.0.0.1:${simPort}`),
      waitReady(api),
      waitReady(`http://127.0.0.1:${workerPort}`),
    ]);
    const ids = customerIds(operations);
    await inParallel(ids, 32, async (id) => {
      await call(api, 'PUT', `/v1/entities/${id}`, {
        firstName: 'Bench',
        lastName: 'Customer',
        email: `${id}@example.com`,
        phone: { countryCode: '971', number: '501234567' },
        address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
        locale: 'en_AE',
        countryCode: 'AE',
      });
      await call(api, 'PUT', `/v1/entities/${id}/kits/${id}k`, {
        pan: '4111111111111111',
        expiry: { month: '12', year: '2030' },
        nameOnCard: 'BENCH',
      });
    });
    const stream = followStream(redis, env.NOTIFICATION_STREAM);
    try {
      return await measureLoad({
        operations,
        ids,
        stream,
        processes,
        submit: async (id) => {
          const accepted = await call(api, 'POST', `/v1/ctp/entities/${id}/registration`, {
            kitNo: `${id}k`,
          });
          return String(accepted.operationId);
        },
        commits: async () => {
          const rows = await db.orm.em
            .getConnection()
            .execute<{ n: string }[]>(
              'select xact_commit::text as n from pg_stat_database where datname = current_database()',
            );
          return Number(rows[0]?.n ?? 0);
        },
      });
    } finally {
      await stream.stop();
    }
  } finally {
    await stopProcesses(processes);
    for (const key of await redis.keys(`{bench-${suffix}}*`)) await redis.del(key);
    await redis.del(env.NOTIFICATION_STREAM);
    for (const key of await redis.keys(`{${env.NOTIFICATION_STREAM}}*`)) await redis.del(key);
    await redis.quit();
    // BENCH_KEEP_DB=1 keeps the database for a look at where the time went (stage timestamps).
    if (process.env.BENCH_KEEP_DB === '1') {
      console.log(`kept database ${db.databaseUrl}`);
      await db.orm.close();
    } else {
      await db.drop();
    }
  }
}

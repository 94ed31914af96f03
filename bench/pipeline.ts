import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { createMigratedDatabase, type MigratedDatabase } from '@ctp/db';
import type { Redis } from 'ioredis';
import { freePort, type Started, startApp, startSimulator, stopProcesses, waitReady } from './harness.ts';

/**
 * The real processes as the end-to-end and batch phases run them: the SaaS simulator (with the
 * settings of `harness.ts`), the api and BENCH_WORKERS workers, against a fresh database, a queue
 * prefix and a notification stream of their own.
 */
export interface BenchPipeline {
  readonly db: MigratedDatabase;
  readonly redis: Redis;
  readonly api: string;
  readonly processes: readonly Started[];
  readonly notificationStream: string;
  /** Stops the processes, removes the run's Redis keys, drops the database (BENCH_KEEP_DB=1 keeps it). */
  readonly close: () => Promise<void>;
}

/** BENCH_WORKERS, the worker processes each pipeline runs (1 unless set). */
export const benchWorkers = (): number => Math.max(1, Number(process.env.BENCH_WORKERS ?? 1) || 1);

export async function startBenchPipeline(
  serverUrl: string,
  redisUrl: string,
  workers = benchWorkers(),
): Promise<BenchPipeline> {
  const suffix = randomBytes(4).toString('hex');
  const db = await createMigratedDatabase(serverUrl, 'ctp_bench');
  const [apiPort, simPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  // Workers scale out (the relay and the queues share the work); `workers` of them.
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
  const close = async () => {
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
  };
  try {
    await Promise.all([
      waitReady(`http://127.0.0.1:${simPort}`),
      waitReady(api),
      waitReady(`http://127.0.0.1:${workerPort}`),
    ]);
  } catch (error) {
    await close();
    throw error;
  }
  return { db, redis, api, processes, notificationStream: env.NOTIFICATION_STREAM, close };
}

/** PostgreSQL commits of the pipeline's database so far. */
export async function commitsOf(db: MigratedDatabase): Promise<number> {
  const rows = await db.orm.em
    .getConnection()
    .execute<{ n: string }[]>(
      'select xact_commit::text as n from pg_stat_database where datname = current_database()',
    );
  return Number(rows[0]?.n ?? 0);
}

/** The customer record `b<i>` of every phase (the naive baseline seeds the same values). */
export const benchCustomer = (id: string) => ({
  firstName: 'Bench',
  lastName: 'Customer',
  email: `${id}@example.com`,
  phone: { countryCode: '971', number: '501234567' },
  address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
  locale: 'en_AE',
  countryCode: 'AE',
});

/** The card record of every bench customer (`<id>k`). */
export const BENCH_CARD = {
  pan: '4111111111111111',
  expiry: { month: '12', year: '2030' },
  nameOnCard: 'BENCH',
} as const;

import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { dropDatabase, ensureDatabase, withDatabaseName } from '@ctp/db';
import pg from 'pg';
import {
  call,
  checkpointCount,
  customerIds,
  followStream,
  freePort,
  type LoadPlan,
  type PreparedTarget,
  type Started,
  type StreamFollower,
  startFlagsOf,
  startProcess,
  startSimulator,
  stopProcesses,
  waitReady,
} from './harness.ts';
import { benchWorkers } from './pipeline.ts';

/**
 * The naive baseline (`naive-app.ts`) under the load of the end-to-end run: the same simulator
 * with the same settings, the same 64 clients, done when the stream entry is read; an api and
 * BENCH_WORKERS worker processes as the real pipeline runs them, each with a database of its
 * own (created and dropped here), a queue prefix and a stream of its own.
 */

const SCHEMA = [
  `create table naive_customer (
     id text primary key, first_name text not null, last_name text not null, email text not null,
     phone_country text not null, phone_number text not null, line1 text not null, city text not null,
     postal_code text not null, country_code text not null, locale text not null)`,
  `create table naive_card (
     id text primary key, customer_id text not null references naive_customer, pan text not null,
     exp_month text not null, exp_year text not null, name_on_card text not null)`,
  `create table naive_operation (
     id uuid primary key default gen_random_uuid(),
     customer_id text not null references naive_customer, card_id text not null references naive_card,
     status text not null default 'PENDING', trace_id text unique,
     ctp_customer_id text, ctp_instrument_id text,
     created_at timestamptz not null default now(), updated_at timestamptz not null default now())`,
];

// The customers `b0`… and their cards `b0k`…, as the end-to-end run registers them through its api.
const SEED = [
  `insert into naive_customer
   select 'b' || i, 'Bench', 'Customer', 'b' || i || '@example.com', '971', '501234567',
          '1 Marina Walk', 'Dubai', '00000', 'AE', 'en_AE'
   from generate_series(0, $1::int - 1) as i`,
  `insert into naive_card
   select 'b' || i || 'k', 'b' || i, '4111111111111111', '12', '2030', 'BENCH'
   from generate_series(0, $1::int - 1) as i`,
];

/**
 * The naive pipeline started on a database of its own, seeded with the customers of `plan` and
 * `spare` more after them (`spareIds`: the batch phase's bracketing slices, `run.ts`).
 */
export async function prepareNaive(
  serverUrl: string,
  redisUrl: string,
  plan: LoadPlan,
  spare = 0,
): Promise<PreparedTarget & { readonly spareIds: readonly string[] }> {
  const suffix = randomBytes(4).toString('hex');
  const databaseUrl = withDatabaseName(serverUrl, `ctp_naive_${suffix}`);
  await ensureDatabase(databaseUrl);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const [apiPort, simPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  const workers = benchWorkers();
  const webhookUrl = `http://127.0.0.1:${apiPort}/naive/webhook`;
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    API_PORT: String(apiPort),
    WORKER_PORT: String(workerPort),
    CTP_SAAS_BASE_URL: `http://127.0.0.1:${simPort}`,
    QUEUE_PREFIX: `{naive-${suffix}}`,
    NOTIFICATION_STREAM: `naive-notifications-${suffix}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const app = (name: string, role: string, extra: Record<string, string> = {}) =>
    // With the Node flags of the real api and worker, so that only the platform side differs.
    startProcess(name, 'bench/naive-app.ts', { ...env, ...extra }, [role], startFlagsOf(role));
  const processes: Started[] = [];
  const redis = createRedis(redisUrl);
  const api = `http://127.0.0.1:${apiPort}`;
  let stream: StreamFollower | undefined;
  const close = async () => {
    await stream?.stop();
    await stopProcesses(processes);
    for (const key of await redis.keys(`{naive-${suffix}}*`)) await redis.del(key);
    await redis.del(env.NOTIFICATION_STREAM);
    await redis.quit();
    await db.end();
    // BENCH_KEEP_DB=1 keeps this database too, as the end-to-end run keeps its own.
    if (process.env.BENCH_KEEP_DB === '1') console.log(`kept database ${databaseUrl}`);
    else await dropDatabase(databaseUrl);
  };
  try {
    for (const statement of SCHEMA) await db.query(statement);
    const ids = customerIds(plan.operations, plan.warmup);
    const spareIds = Array.from({ length: spare }, (_, i) => `b${ids.length + i}`);
    // Not analyzed afterwards, as the end-to-end run's database is not: both start alike.
    for (const statement of SEED) await db.query(statement, [ids.length + spare]);
    processes.push(
      startSimulator(simPort, webhookUrl, env, 'naive-saas-sim'),
      app('naive-api', 'api'),
      app('naive-worker', 'worker'),
      ...Array.from({ length: workers - 1 }, () => app('naive-worker', 'worker', { WORKER_PORT: '0' })),
    );
    await Promise.all([
      waitReady(`http://127.0.0.1:${simPort}`),
      waitReady(api),
      waitReady(`http://127.0.0.1:${workerPort}`),
    ]);
    stream = followStream(redis, env.NOTIFICATION_STREAM);
    return {
      spareIds,
      target: {
        ids,
        stream,
        processes,
        submit: async (id) => {
          const accepted = await call(api, 'POST', '/naive/registration', {
            customerId: id,
            cardId: `${id}k`,
          });
          return String(accepted.operationId);
        },
        commits: async () => {
          const { rows } = await db.query<{ n: string }>(
            'select xact_commit::text as n from pg_stat_database where datname = current_database()',
          );
          return Number(rows[0]?.n ?? 0);
        },
        checkpoints: () => checkpointCount(async (text) => (await db.query<{ n: string }>(text)).rows),
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

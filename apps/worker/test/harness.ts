import { randomBytes } from 'node:crypto';
import { DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { createMetricsRegistry, type Registry } from '@ctp/core/metrics';
import { createRedis, JOBS, QUEUE_NAMES } from '@ctp/core/queues';
import type { TestDatabase } from '@ctp/db/testing';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { startWorkerRuntime, type WorkerRuntime } from '../src/runtime.ts';

/**
 * A real worker runtime (relay, BullMQ workers, schedulers) on a key prefix of its own, against
 * the test database and a running simulator, with a way to run one maintenance job now and
 * read what it returned.
 */
export interface RuntimeHarness {
  readonly runtime: WorkerRuntime;
  readonly registry: Registry;
  readonly prefix: string;
  readonly redis: Redis;
  /** Runs the maintenance job `name` once, now, and returns its result. */
  runMaintenance<T>(name: 'sweep' | 'prune'): Promise<T>;
  close(): Promise<void>;
}

export function testConfig(db: TestDatabase, saasUrl: string, env: Record<string, string> = {}) {
  const suffix = randomBytes(4).toString('hex');
  return loadConfig({
    DATABASE_URL: db.databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `{wt-${suffix}}`,
    NOTIFICATION_STREAM: `wt-notifications-${suffix}`,
    CTP_SAAS_BASE_URL: saasUrl,
    CTP_SAAS_API_KEY: 'test-saas-api-key-0123456789',
    PAN_ENCRYPTION_KEY: DEV_DEFAULTS.PAN_ENCRYPTION_KEY,
    TRACE_FIRST_POLL_MS: '0',
    TRACE_POLL_MAX_INTERVAL_MS: '1000',
    ...env,
  });
}

export async function startRuntime(
  db: TestDatabase,
  config: ReturnType<typeof testConfig>,
): Promise<RuntimeHarness> {
  const redis = createRedis(config.REDIS_URL);
  const registry = createMetricsRegistry('worker');
  const runtime = await startWorkerRuntime({
    config,
    orm: db.orm,
    logger: createLogger({ name: 'worker', level: 'silent' }),
    metrics: registry,
  });
  const events = new QueueEvents(QUEUE_NAMES.maintenance, {
    connection: createRedis(config.REDIS_URL),
    prefix: config.QUEUE_PREFIX,
  });
  await events.waitUntilReady();
  return {
    runtime,
    registry,
    prefix: config.QUEUE_PREFIX,
    redis,
    async runMaintenance<T>(name: 'sweep' | 'prune') {
      const job = await runtime.queues[QUEUE_NAMES.maintenance].add(
        name === 'sweep' ? JOBS.sweep.name : JOBS.prune.name,
        {},
      );
      return (await job.waitUntilFinished(events)) as T;
    },
    async close() {
      await events.close();
      await runtime.close();
      const keys = [
        ...(await redis.keys(`${config.QUEUE_PREFIX}*`)),
        ...(await redis.keys(`{${config.NOTIFICATION_STREAM}}*`)),
        config.NOTIFICATION_STREAM,
      ];
      await redis.del(...keys);
      await redis.quit();
    },
  };
}

/** Asks until `check` holds (no fixed sleep decides a result). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The value of one series in the registry's exposition, 0 when it has no sample. */
export async function metricValue(registry: Registry, name: string): Promise<number> {
  const line = (await registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

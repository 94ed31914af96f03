import { randomBytes } from 'node:crypto';
import { DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import { CtpOperation } from '@ctp/core/entities';
import { createLogger } from '@ctp/core/logging';
import { createMetricsRegistry, type Registry } from '@ctp/core/metrics';
import { createRedis, JOBS } from '@ctp/core/queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY } from '../../saas-sim/src/testing.ts';
import { startWorkerRuntime, type WorkerRuntime } from '../src/runtime.ts';
import { queuedRegistration } from './fixtures.ts';

/** The worker's metrics move when their events happen: jobs, SaaS calls, resolutions, outbox, stream. */

const T = 'ENBDTABBY';
const suffix = randomBytes(4).toString('hex');
let db: TestDatabase;
let sim: RunningSimulator;
let redis: Redis;
let registry: Registry;
let runtime: WorkerRuntime;
let stream: string;
let prefix: string;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  const config = loadConfig({
    DATABASE_URL: db.databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `{wm-${suffix}}`,
    NOTIFICATION_STREAM: `wm-notifications-${suffix}`,
    CTP_SAAS_BASE_URL: sim.url,
    CTP_SAAS_API_KEY: TEST_API_KEY,
    PAN_ENCRYPTION_KEY: DEV_DEFAULTS.PAN_ENCRYPTION_KEY,
    TRACE_FIRST_POLL_MS: '0',
    TRACE_POLL_MAX_INTERVAL_MS: '1000',
  });
  stream = config.NOTIFICATION_STREAM;
  prefix = config.QUEUE_PREFIX;
  redis = createRedis(config.REDIS_URL);
  registry = createMetricsRegistry('worker');
  runtime = await startWorkerRuntime({
    config,
    orm: db.orm,
    logger: createLogger({ name: 'worker', level: 'silent' }),
    metrics: registry,
  });
});

afterAll(async () => {
  await runtime?.close();
  await sim?.close();
  if (redis) {
    const keys = [...(await redis.keys(`${prefix}*`)), ...(await redis.keys(`{${stream}}*`)), stream];
    await redis.del(...keys);
    await redis.quit();
  }
  await db?.drop();
});

/** The value of one series (the first line with every label), 0 when it has no sample yet. */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = (await registry.metrics())
    .split('\n')
    .find(
      (l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const register = (entityId: string) => queuedRegistration(db.orm, T, entityId);

const statusOf = async (id: string) => (await db.orm.em.fork().findOneOrFail(CtpOperation, { id })).status;

describe('worker metrics', () => {
  it('count completed jobs, time SaaS calls, time the trace resolution and measure the stream', async () => {
    const operationId = await register('m-ok');
    await eventually(async () => (await statusOf(operationId)) === 'SUCCESS', 'the registration to succeed');
    await eventually(async () => (await value('ctp_notification_stream_length')) === 1, 'the notification');

    expect(await value('ctp_jobs_total', { queue: JOBS.submit.queue, result: 'completed' })).toBe(1);
    expect(
      await value('ctp_jobs_total', { queue: JOBS.pollTraces.queue, result: 'completed' }),
    ).toBeGreaterThan(0);
    expect(
      await value('ctp_saas_request_duration_seconds_count', {
        endpoint: '/addCustomerAndPaymentInstrument',
        class: 'ok',
      }),
    ).toBe(1);
    expect(
      await value('ctp_saas_request_duration_seconds_count', { endpoint: '/status', class: 'ok' }),
    ).toBeGreaterThan(0);
    expect(
      await value('ctp_trace_resolution_seconds_count', {
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        status: 'SUCCESS',
      }),
    ).toBe(1);
    // The relay adds the stream entry before it marks the row published: the stream can show
    // the entry a moment before the row leaves the outbox, so the lag goes to 0 eventually.
    await eventually(async () => (await value('ctp_outbox_lag_seconds')) === 0, 'the outbox mark');
    expect(await value('ctp_queue_jobs', { queue: JOBS.submit.queue, state: 'failed' })).toBe(0);
  });

  it('report each consumer group lag and pending entries', async () => {
    await redis.xgroup('CREATE', stream, 'fraud', '0');
    expect(await value('ctp_notification_consumer_lag', { group: 'fraud' })).toBe(1);
    await redis.xreadgroup('GROUP', 'fraud', 'c1', 'COUNT', 1, 'STREAMS', stream, '>');
    expect(await value('ctp_notification_consumer_lag', { group: 'fraud' })).toBe(0);
    expect(await value('ctp_notification_consumer_pending', { group: 'fraud' })).toBe(1);
  });

  it('count retried and failed jobs and SaaS errors by class', async () => {
    sim.simulator.setFaults({ rate5xx: 1 });
    const operationId = await register('m-retry');
    await eventually(
      async () => (await value('ctp_jobs_total', { queue: JOBS.submit.queue, result: 'retried' })) >= 1,
      'a retried submission',
    );
    expect(
      await value('ctp_saas_errors_total', {
        endpoint: '/addCustomerAndPaymentInstrument',
        class: 'retryable',
        reason: '5xx',
      }),
    ).toBeGreaterThanOrEqual(1);
    sim.simulator.setFaults({ rate5xx: 0 });
    await eventually(async () => (await statusOf(operationId)) === 'SUCCESS', 'the retried registration');

    await runtime.queues[JOBS.submit.queue].add(JOBS.submit.name, { not: 'a submit payload' });
    await eventually(
      async () => (await value('ctp_jobs_total', { queue: JOBS.submit.queue, result: 'failed' })) === 1,
      'a failed job',
    );
    expect(await value('ctp_queue_jobs', { queue: JOBS.submit.queue, state: 'failed' })).toBe(1);
  });

  it('measure the outbox lag while a row waits, and count failed samples', async () => {
    // A due notification row that the relay cannot claim: another transaction holds its lock
    // (the relay claims with SKIP LOCKED), as a slow or stuck publisher would.
    const locker = new pg.Client({ connectionString: db.databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      const [row] = (
        await locker.query<{ id: string }>(
          `insert into ctp_outbox (tenant, kind, topic, dedupe_key, payload, attempts, available_at, created_at)
           values ($1, 'notification', 'notification', $2, $3, 0, now(), now() - interval '5 seconds')
           returning id`,
          [
            T,
            `notification:lag-${suffix}`,
            JSON.stringify({ notificationId: `lag-${suffix}`, payload: '{}' }),
          ],
        )
      ).rows;
      await locker.query('commit');
      await locker.query('begin');
      await locker.query('select id from ctp_outbox where id = $1 for update', [row?.id]);
      expect(await value('ctp_outbox_lag_seconds')).toBeGreaterThanOrEqual(5);
      await locker.query('rollback');
    } finally {
      await locker.end();
    }
    await eventually(async () => (await value('ctp_outbox_lag_seconds')) === 0, 'the outbox to drain');

    // The stream key holds a string: XLEN fails, the gauge says NaN and the failure is counted.
    const entries = await redis.xrange(stream, '-', '+');
    await redis.rename(stream, `${stream}-saved`);
    await redis.set(stream, 'not a stream');
    expect(Number.isNaN(await value('ctp_notification_stream_length'))).toBe(true);
    expect(await value('ctp_metrics_sample_errors_total', { sampler: 'stream' })).toBe(1);
    await redis.del(stream);
    await redis.rename(`${stream}-saved`, stream);
    expect(await value('ctp_notification_stream_length')).toBe(entries.length);
  });
});

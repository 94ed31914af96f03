import { randomBytes } from 'node:crypto';
import { CtpOutbox } from '@ctp/core/entities';
import { createLogger } from '@ctp/core/logging';
import type { ResolvedTrace } from '@ctp/core/metrics';
import { NotificationPublisher } from '@ctp/core/notifications';
import {
  attachCommittedPublisher,
  OutboxPublisher,
  type OutboxRow,
  recordAccepted,
  resolveTraceOutcome,
} from '@ctp/core/operations';
import { createRedis, QUEUE_NAMES } from '@ctp/core/queues';
import { createJobQueues } from '@ctp/core/queues/job-queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay } from '../src/relay.ts';
import { queuedRegistration } from './fixtures.ts';
import { startSilentRedis } from './silent-redis.ts';

/**
 * The api and the worker publish the outbox rows of their own steps right after the commit
 * (`OutboxPublisher`): the rows are still written in the step's transaction, leased to the
 * writer, so whatever becomes of the writer after its commit, the relay publishes them.
 */

const T = 'ENBDTABBY';
const suffix = randomBytes(4).toString('hex');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ name: 'outbox-publisher-test', level: 'silent' });
let db: TestDatabase;
let silent: Awaited<ReturnType<typeof startSilentRedis>> | undefined;
const clients: Redis[] = [];
const queuesToClose: Queue[] = [];
let detach: (() => void) | undefined;
const toClose: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  silent = await startSilentRedis();
});

afterEach(async () => {
  detach?.();
  detach = undefined;
  for (const closing of toClose.splice(0)) await closing.close();
});

afterAll(async () => {
  await Promise.all(queuesToClose.map((queue) => queue.close().catch(() => undefined)));
  for (const client of clients) client.disconnect();
  silent?.close();
  await db?.drop();
});

async function targets(redisUrl: string, prefix: string) {
  const connection = createRedis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  clients.push(connection);
  const queues = await createJobQueues(connection, prefix, () => undefined);
  queuesToClose.push(...Object.values(queues));
  const notifications = new NotificationPublisher(connection, {
    stream: `op-test-${suffix}`,
    maxLength: 1_000,
    dedupeTtlSeconds: 60,
  });
  return { connection, queues, notifications };
}

async function publisherTo(
  redisUrl: string,
  prefix: string,
  options: {
    redisTimeoutMs?: number;
    leaseMs?: number;
    markLingerMs?: number;
    onTraceResolved?: (trace: ResolvedTrace) => void;
  } = {},
) {
  const { queues, notifications, connection } = await targets(redisUrl, prefix);
  const publisher = new OutboxPublisher({ em: db.orm.em, queues, notifications, logger, ...options });
  await publisher.attach();
  return { publisher, queues, connection };
}

async function relayTo(prefix: string) {
  const { queues, notifications } = await targets(REDIS_URL, prefix);
  const relay = new OutboxRelay({
    orm: db.orm,
    databaseUrl: db.databaseUrl,
    queues,
    publisher: notifications,
    logger,
    redisTimeoutMs: 500,
    claimLeaseMs: 1_000,
  });
  return { relay, queues };
}

const outboxRow = (operationId: string) => db.orm.em.fork().findOneOrFail(CtpOutbox, { operationId });

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("a writer's own outbox rows", () => {
  it('are published right after the commit and marked, with no relay running, alone and in a shared transaction', async () => {
    const prefix = `{op-a-${suffix}}`;
    const { publisher, queues } = await publisherTo(REDIS_URL, prefix);
    toClose.push(publisher);
    const alone = await queuedRegistration(db.orm, T, 'op-alone');
    // Ready together: the group commit shares one transaction among them.
    const together = await Promise.all(
      Array.from({ length: 6 }, (_, i) => queuedRegistration(db.orm, T, `op-group-${i}`)),
    );
    for (const operationId of [alone, ...together]) {
      const row = await eventually(
        () => outboxRow(operationId),
        (r) => r.publishedAt != null,
        'the row marked published',
      );
      expect(row.claimedUntil ?? null).toBeNull();
      expect(await queues[QUEUE_NAMES.operations].getJob(String(row.payload.jobId))).toBeDefined();
    }
  });

  it('of a writer that died right after its commit wait for their lease, then the relay publishes them', async () => {
    // The process "dies" after each commit: its publisher never publishes what it is handed.
    const dead = { leaseMs: 1_500, publishCommitted: (_rows: readonly OutboxRow[]) => undefined };
    detach = await attachCommittedPublisher(db.orm.em, dead);
    const operationId = await queuedRegistration(db.orm, T, 'op-dead');
    detach();
    detach = undefined;
    const written = await outboxRow(operationId);
    expect(written.publishedAt ?? null).toBeNull();
    expect(written.claimedUntil).toBeInstanceOf(Date);

    const prefix = `{op-b-${suffix}}`;
    const { relay, queues } = await relayTo(prefix);
    // The lease keeps the relay off the row meanwhile.
    await relay.relayOnce();
    expect((await outboxRow(operationId)).publishedAt ?? null).toBeNull();
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, (written.claimedUntil?.getTime() ?? 0) - Date.now() + 100)),
    );
    await relay.relayOnce();
    await relay.stop();
    const row = await outboxRow(operationId);
    expect(row.publishedAt).toBeInstanceOf(Date);
    expect(await queues[QUEUE_NAMES.operations].getJob(String(row.payload.jobId))).toBeDefined();
  });

  it('whose publish fails are given back to the relay at once, not after their lease', async () => {
    const { publisher } = await publisherTo(String(silent?.url), `{op-c-${suffix}}`, {
      redisTimeoutMs: 300,
      leaseMs: 60_000,
    });
    toClose.push(publisher);
    const operationId = await queuedRegistration(db.orm, T, 'op-redis-down');
    expect((await outboxRow(operationId)).claimedUntil).toBeInstanceOf(Date);
    // The deadline passes and the lease is given back, long before its 60 s.
    const released = await eventually(
      () => outboxRow(operationId),
      (r) => r.claimedUntil == null,
      'the lease given back',
    );
    expect(released.publishedAt ?? null).toBeNull();
    const { relay, queues } = await relayTo(`{op-c2-${suffix}}`);
    await relay.relayOnce();
    await relay.stop();
    const row = await outboxRow(operationId);
    expect(row.publishedAt).toBeInstanceOf(Date);
    expect(await queues[QUEUE_NAMES.operations].getJob(String(row.payload.jobId))).toBeDefined();
  });

  it('published but not marked (the writer died in between) are published again once their lease ends: still one job', async () => {
    const prefix = `{op-d-${suffix}}`;
    // The mark waits far longer than the lease: the writer "dies" before it.
    const { publisher, queues } = await publisherTo(REDIS_URL, prefix, {
      redisTimeoutMs: 500,
      leaseMs: 1_000,
      markLingerMs: 60_000,
    });
    const operationId = await queuedRegistration(db.orm, T, 'op-unmarked');
    const jobs = queues[QUEUE_NAMES.operations];
    const jobId = String((await outboxRow(operationId)).payload.jobId);
    await eventually(
      () => jobs.getJob(jobId),
      (job) => job !== undefined,
      'the job published by the writer',
    );
    const { relay } = await relayTo(prefix);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await relay.relayOnce()).toBeGreaterThanOrEqual(1);
    await relay.stop();
    expect((await outboxRow(operationId)).publishedAt).toBeInstanceOf(Date);
    // The same job id: BullMQ kept the one job.
    expect(await jobs.getJobCounts('waiting', 'active', 'delayed', 'completed')).toMatchObject({
      waiting: 1,
    });
    await publisher.close();
  });

  it("of a resolve go to the stream once, and the writer observes the trace's resolution", async () => {
    const resolved: ResolvedTrace[] = [];
    const { publisher, connection } = await publisherTo(REDIS_URL, `{op-e-${suffix}}`, {
      onTraceResolved: (trace) => resolved.push(trace),
    });
    toClose.push(publisher);
    const operationId = await queuedRegistration(db.orm, T, 'op-resolve');
    await recordAccepted(db.orm.em, {
      operationId,
      requestTraceId: 't-op-resolve',
      firstPollAfterMs: 60_000,
    });
    expect(
      await resolveTraceOutcome(db.orm.em, T, { requestTraceId: 't-op-resolve', status: 'SUCCESS' }),
    ).toBe('resolved');
    // The webhook's redelivery or the poller find the trace terminal: nothing more is written.
    expect(
      await resolveTraceOutcome(db.orm.em, T, { requestTraceId: 't-op-resolve', status: 'SUCCESS' }),
    ).toBe('already-terminal');
    const notification = await eventually(
      () => db.orm.em.fork().findOneOrFail(CtpOutbox, { operationId, kind: 'notification' }),
      (row) => row.publishedAt != null,
      'the outcome marked published',
    );
    expect(notification.claimedUntil ?? null).toBeNull();
    const entries = await connection.xrange(`op-test-${suffix}`, '-', '+');
    const mine = entries.filter(([, fields]) => fields.includes(operationId));
    expect(mine).toHaveLength(1);
    expect(resolved).toEqual([
      expect.objectContaining({ event: 'CTP_REGISTER_ENTITY_AND_KIT', status: 'SUCCESS' }),
    ]);
    expect(resolved[0]?.resolvedAt.getTime()).toBeGreaterThanOrEqual(resolved[0]?.createdAt.getTime() ?? 0);
  });
});

import { randomBytes } from 'node:crypto';
import { CtpOutbox } from '@ctp/core/entities';
import { createLogger } from '@ctp/core/logging';
import { NotificationPublisher } from '@ctp/core/notifications';
import { defineStatement, SqlSession } from '@ctp/core/operations';
import { createRedis, QUEUE_NAMES, type QueueName } from '@ctp/core/queues';
import { createOrm, type Orm } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay } from '../src/relay.ts';
import { queuedRegistration } from './fixtures.ts';
import { startSilentRedis } from './silent-redis.ts';

/**
 * The relay never holds a PostgreSQL transaction across Redis (issue 12, item 14): it claims
 * rows with a lease and commits, publishes under a deadline, then marks them. With a Redis that
 * accepts connections and never answers, no connection sits `idle in transaction` and the relay's
 * call fails by its deadline instead of hanging. The pool's connections carry statement, lock and
 * idle-in-transaction timeouts.
 */

const T = 'ENBDTABBY';
const suffix = randomBytes(4).toString('hex');
let db: TestDatabase;
let silent: Awaited<ReturnType<typeof startSilentRedis>> | undefined;
const clients: Redis[] = [];
const queuesToClose: Queue[] = [];
const logger = createLogger({ name: 'relay-test', level: 'silent' });

beforeAll(async () => {
  db = await createTestDatabase();
  silent = await startSilentRedis();
});

afterAll(async () => {
  await Promise.all(queuesToClose.map((queue) => queue.close().catch(() => undefined)));
  for (const client of clients) client.disconnect();
  silent?.close();
  await db?.drop();
});

function relayTo(
  redisUrl: string,
  prefix: string,
  options: { redisTimeoutMs?: number; claimLeaseMs?: number; batchSize?: number; markLingerMs?: number } = {},
) {
  const connection = createRedis(redisUrl);
  clients.push(connection);
  const queues = Object.fromEntries(
    Object.values(QUEUE_NAMES).map((name) => {
      const queue = new Queue(name, { connection, prefix });
      queuesToClose.push(queue);
      return [name, queue];
    }),
  ) as Record<QueueName, Queue>;
  const relay = new OutboxRelay({
    orm: db.orm,
    databaseUrl: db.databaseUrl,
    queues,
    publisher: new NotificationPublisher(connection, {
      stream: `relay-test-${suffix}`,
      maxLength: 1_000,
      dedupeTtlSeconds: 60,
    }),
    logger,
    ...options,
  });
  return { relay, queues, connection };
}

async function idleInTransaction(): Promise<number> {
  // Held, not passing: between the pipelined statements of one round trip (the claim's
  // `begin; …; commit`) a connection shows as idle in a transaction for a moment. A transaction
  // held across the Redis call would stay so for the call's 500 ms deadline.
  const rows = await db.orm.em.fork().execute<{ n: string }[]>(
    `select count(*) as n from pg_stat_activity
        where datname = current_database() and state like 'idle in transaction%'
          and state_change < now() - interval '100 milliseconds'`,
  );
  return Number(rows[0]?.n ?? 0);
}

const queuedOperation = (entityId: string) => queuedRegistration(db.orm, T, entityId);

describe('the outbox relay and an unreachable Redis', () => {
  it('holds no transaction while Redis does not answer, and gives up by its deadline', async () => {
    const operationId = await queuedOperation('r-silent');
    const { relay } = relayTo(String(silent?.url), `{rs-${suffix}}`, { redisTimeoutMs: 500 });
    let settled = false;
    const relaying = relay.relayOnce().finally(() => {
      settled = true;
    });
    relaying.catch(() => undefined);
    // Until the relay gives up, no connection of this database may sit idle in a transaction.
    let seen = 0;
    while (!settled && seen === 0) seen = await idleInTransaction();
    expect(seen).toBe(0);
    await expect(relaying).rejects.toThrow(/deadline|timed out/i);
    // Nothing was published and the lease was given back: the next attempt may take the row.
    const row = await db.orm.em.fork().findOneOrFail(CtpOutbox, { operationId });
    expect(row.publishedAt ?? null).toBeNull();
    expect(row.claimedUntil ?? null).toBeNull();
  });

  it('a claimed row waits for its lease; an expired lease is relayed again (as after a crash)', async () => {
    const operationId = await queuedOperation('r-lease');
    const prefix = `{rl-${suffix}}`;
    const { relay, queues } = relayTo(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix);
    // Another relay claimed the row and died before publishing it.
    await db.orm.em
      .fork()
      .execute(
        `update ctp_outbox set claimed_until = now() + interval '1 hour' where operation_id = ?::uuid`,
        [operationId],
      );
    await relay.relayOnce();
    expect((await db.orm.em.fork().findOneOrFail(CtpOutbox, { operationId })).publishedAt ?? null).toBeNull();
    await db.orm.em
      .fork()
      .execute(
        `update ctp_outbox set claimed_until = now() - interval '1 second' where operation_id = ?::uuid`,
        [operationId],
      );
    await relay.relayOnce();
    const row = await db.orm.em.fork().findOneOrFail(CtpOutbox, { operationId });
    expect(row.publishedAt).toBeInstanceOf(Date);
    expect(await queues[QUEUE_NAMES.operations].getJob(String(row.payload.jobId))).toBeDefined();
    await queues[QUEUE_NAMES.operations].obliterate({ force: true });
  });
});

describe("the relay's mark", () => {
  /** Rows published to Redis whose mark is still to come: leased, not marked published. */
  async function leasedUnmarked(): Promise<number> {
    const rows = await db.orm.em
      .fork()
      .execute<{ n: string }[]>(
        'select count(*) as n from ctp_outbox where published_at is null and claimed_until > now()',
      );
    return Number(rows[0]?.n ?? 0);
  }
  const unpublished = async () =>
    Number(
      (
        await db.orm.em
          .fork()
          .execute<{ n: string }[]>('select count(*) as n from ctp_outbox where published_at is null')
      )[0]?.n ?? 0,
    );

  it("rides in the next claim's transaction while rows keep coming; alone when none come", async () => {
    for (const n of [1, 2, 3, 4, 5]) await queuedOperation(`r-fold-${n}`);
    const { relay, queues } = relayTo(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', `{rf-${suffix}}`, {
      batchSize: 2,
    });
    expect(await unpublished()).toBeGreaterThanOrEqual(5);
    // A full batch: more rows wait, so its mark waits for the next claim (the lease holds them).
    expect(await relay.relayOnce()).toBe(2);
    expect(await leasedUnmarked()).toBe(2);
    let moved = 2;
    while (moved === 2) {
      moved = await relay.relayOnce();
      // The previous batch was marked by this claim; only a full batch leaves its own for the next.
      expect(await leasedUnmarked()).toBe(moved === 2 ? 2 : 0);
    }
    expect(await unpublished()).toBe(0);
    await queues[QUEUE_NAMES.operations].obliterate({ force: true });
  });

  it('waits a moment after the publish: a wake-up then carries the mark in the next claim', async () => {
    await queuedOperation('r-linger-1');
    const { relay, queues } = relayTo(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', `{rg-${suffix}}`, {
      markLingerMs: 3_000,
    });
    const queue = queues[QUEUE_NAMES.operations];
    const relaying = relay.relayOnce();
    // Rows are committed while the relay waits after publishing the first (its job is in Redis).
    while ((await queue.count()) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await queuedOperation('r-linger-2');
    relay.wake();
    expect(await relaying).toBe(1);
    // Not marked yet: its mark rides in the next claim, which takes the second row.
    expect(await leasedUnmarked()).toBe(1);
    expect(await relay.relayOnce()).toBe(1);
    // No wake-up came within the wait: the second row was marked alone.
    expect(await leasedUnmarked()).toBe(0);
    expect(await unpublished()).toBe(0);
    await queue.obliterate({ force: true });
  });

  it('a batch whose mark waits is marked when the relay stops', async () => {
    for (const n of [1, 2]) await queuedOperation(`r-stop-${n}`);
    const { relay, queues } = relayTo(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', `{rx-${suffix}}`, {
      batchSize: 1,
    });
    expect(await relay.relayOnce()).toBe(1);
    expect(await leasedUnmarked()).toBe(1);
    await relay.stop();
    expect(await leasedUnmarked()).toBe(0);
    expect(await unpublished()).toBe(1);
    await queues[QUEUE_NAMES.operations].obliterate({ force: true });
  });
});

describe('the pool sets statement, lock and idle-in-transaction timeouts', () => {
  const settings = `select current_setting('statement_timeout') as statement,
    current_setting('lock_timeout') as lock,
    current_setting('idle_in_transaction_session_timeout') as idle`;

  it('on the connections of the unit of work and of SqlSession, by default', async () => {
    const [viaOrm] = await db.orm.em.fork().execute(settings);
    const statement = defineStatement<Record<string, never>>('test_timeouts', settings)({});
    const [rows] = await SqlSession.transaction(db.orm.em, (session) => session.run([statement]));
    for (const row of [viaOrm, rows?.[0]]) {
      expect(row).toMatchObject({ statement: '30s', lock: '10s', idle: '1min' });
    }
  });

  it('as configured', async () => {
    let orm: Orm | undefined;
    try {
      orm = await createOrm({
        databaseUrl: db.databaseUrl,
        timeouts: { statementMs: 5_000, lockMs: 2_000, idleInTransactionMs: 15_000 },
      });
      const [row] = await orm.em.fork().execute(settings);
      expect(row).toMatchObject({ statement: '5s', lock: '2s', idle: '15s' });
    } finally {
      await orm?.close();
    }
  });
});

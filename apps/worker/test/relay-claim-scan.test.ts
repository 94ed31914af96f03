import { createLogger } from '@ctp/core/logging';
import { NotificationPublisher } from '@ctp/core/notifications';
import { createRedis, QUEUE_NAMES, type QueueName } from '@ctp/core/queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay } from '../src/relay.ts';

/**
 * The relay's claim must not read every published row again until a VACUUM runs. A row leaves
 * the partial index `idx_ctp_outbox_unpublished` when it is published, but its entry stays there,
 * dead, until the table is vacuumed (or until an index scan finds it dead and marks it, after
 * which every scan skips it without visiting the table). A bitmap scan never marks: each claim
 * then read every entry and table page of everything published since the last VACUUM, and the
 * relay (two hops of every operation) slowed down as the outbox grew (BENCHMARKS.md,
 * 2026-12-01, a server without autovacuum). Seen here as the entries the claim left marked dead.
 */

let db: TestDatabase;
let client: pg.Client;
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const queues = Object.fromEntries(
  Object.values(QUEUE_NAMES).map((name) => [
    name,
    new Queue(name, { connection: redis, prefix: '{claim-scan}' }),
  ]),
) as Record<QueueName, Queue>;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await client.query('create extension if not exists pageinspect');
});

afterAll(async () => {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
  await redis.quit();
  await client?.end();
  await db?.drop();
});

/** Entries of the unpublished-rows index marked dead (LP_DEAD) by a scan. */
async function markedDeadEntries(): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n
       from generate_series(1, (pg_relation_size('idx_ctp_outbox_unpublished') / 8192)::int - 1) as block,
            bt_page_items('idx_ctp_outbox_unpublished', block)
      where dead`,
  );
  return rows[0]?.n ?? 0;
}

describe("the relay's claim", () => {
  it('marks the index entries of published rows dead, so the next claims skip them', async () => {
    // 2,000 rows written and published, as the relay leaves them (no VACUUM since).
    await client.query(
      `insert into ctp_outbox (tenant, kind, topic, dedupe_key, payload, attempts, available_at, created_at)
       select 'ENBDTABBY', 'notification', 'notification', 'n-' || g, '{}'::jsonb, 0, now(), now()
         from generate_series(1, 2000) g`,
    );
    await client.query('update ctp_outbox set published_at = now()');
    expect(await markedDeadEntries()).toBe(0);
    const relay = new OutboxRelay({
      orm: db.orm,
      databaseUrl: db.databaseUrl,
      queues,
      publisher: new NotificationPublisher(redis, {
        stream: 'claim-scan',
        maxLength: 10,
        dedupeTtlSeconds: 60,
      }),
      logger: createLogger({ name: 'relay-test', level: 'silent' }),
    });
    // A scan marks an entry once the row's old version is dead to every transaction, which a
    // transaction of another session that began before the update (any database: it holds back
    // the snapshot's horizon) or its commit not yet flushed (hint bits) can delay for a moment.
    // Claims follow one another on a live relay; a bitmap scan marks nothing however many run.
    let marked = 0;
    for (let claim = 0; claim < 50 && marked < 2000; claim++) {
      if (claim > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await relay.relayOnce()).toBe(0);
      marked = await markedDeadEntries();
    }
    expect(marked).toBe(2000);
  });
});

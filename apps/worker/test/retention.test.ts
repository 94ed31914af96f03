import {
  CLAIM_DUE_TRACES_SQL,
  PRUNE_PUBLISHED_OUTBOX_SQL,
  pruneFinishedRows,
  STALE_QUEUED_OPERATIONS_SQL,
  UNPROCESSED_WEBHOOKS_SQL,
} from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillFinishedOperations } from '../../../bench/scans.ts';
import { type RunningSimulator, startSimulator } from '../../saas-sim/src/testing.ts';
import { type RuntimeHarness, startRuntime, testConfig } from './harness.ts';

/**
 * Item 17: finished outbox and inbox rows are deleted after their retention, in small batches,
 * and never an unfinished one; every scan of unfinished work reads a partial index.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let harness: RuntimeHarness;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
});

afterAll(async () => {
  await harness?.close();
  await client?.end();
  await sim?.close();
  await db?.drop();
});

/** Outbox rows `key-1..n` published (or not) `ageSql` ago. */
async function outboxRows(prefix: string, n: number, published: string | null, created = 'now()') {
  await client.query(
    `insert into ctp_outbox (tenant, kind, topic, dedupe_key, payload, attempts, available_at, published_at, created_at)
     select 'ENBDTABBY', 'notification', 'm2p.notification.all', $1 || g, '{}'::jsonb, 0, ${created},
            ${published === null ? 'null' : published}, ${created}
       from generate_series(1, $2::int) g`,
    [prefix, n],
  );
}

async function inboxRows(
  prefix: string,
  n: number,
  columns: { processed?: string; parked?: string; received?: string },
) {
  await client.query(
    `insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, received_at, processed_at, parked_at, attempts)
     select $1 || g, 'ENBDTABBY', 'request.completed', '{}'::jsonb, ${columns.received ?? 'now()'},
            ${columns.processed ?? 'null'}, ${columns.parked ?? 'null'}, 0
       from generate_series(1, $2::int) g`,
    [prefix, n],
  );
}

async function remaining(table: 'ctp_outbox' | 'ctp_webhook_inbox', column: string, prefix: string) {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n from ${table} where ${column} like $1`,
    [`${prefix}%`],
  );
  return rows[0]?.n;
}

const DAY = 24 * 3_600_000;

describe('retention', () => {
  it('deletes only finished rows past their age, in batches, and resumes where it stopped', async () => {
    await outboxRows('old-published-', 5, `now() - interval '8 days'`, `now() - interval '8 days'`);
    await outboxRows('new-published-', 2, 'now()');
    await outboxRows('old-unpublished-', 2, null, `now() - interval '30 days'`);
    await inboxRows('old-processed-', 3, {
      processed: `now() - interval '8 days'`,
      received: `now() - interval '8 days'`,
    });
    await inboxRows('new-processed-', 2, { processed: 'now()' });
    await inboxRows('old-unprocessed-', 2, { received: `now() - interval '30 days'` });
    await inboxRows('old-parked-', 2, {
      received: `now() - interval '30 days'`,
      parked: `now() - interval '30 days'`,
    });

    const options = { outboxRetentionMs: 7 * DAY, inboxRetentionMs: 7 * DAY, batchSize: 2, maxBatches: 2 };
    // Two batches of two per table per run: the fifth old outbox row waits for the next run.
    expect(await pruneFinishedRows(db.orm.em, options)).toEqual({ outbox: 4, inbox: 3 });
    expect(await pruneFinishedRows(db.orm.em, options)).toEqual({ outbox: 1, inbox: 0 });
    expect(await pruneFinishedRows(db.orm.em, options)).toEqual({ outbox: 0, inbox: 0 });

    expect(await remaining('ctp_outbox', 'dedupe_key', 'old-published-')).toBe(0);
    expect(await remaining('ctp_outbox', 'dedupe_key', 'new-published-')).toBe(2);
    expect(await remaining('ctp_outbox', 'dedupe_key', 'old-unpublished-')).toBe(2);
    expect(await remaining('ctp_webhook_inbox', 'webhook_id', 'old-processed-')).toBe(0);
    expect(await remaining('ctp_webhook_inbox', 'webhook_id', 'new-processed-')).toBe(2);
    expect(await remaining('ctp_webhook_inbox', 'webhook_id', 'old-unprocessed-')).toBe(2);
    expect(await remaining('ctp_webhook_inbox', 'webhook_id', 'old-parked-')).toBe(2);
  });

  it('runs in the worker as a maintenance job, with the configured ages', async () => {
    await outboxRows('job-published-', 3, `now() - interval '2 hours'`, `now() - interval '2 hours'`);
    await inboxRows('job-processed-', 3, { processed: `now() - interval '3 days'` });
    harness = await startRuntime(
      db,
      testConfig(db, sim.url, {
        OUTBOX_RETENTION_MS: '3600000',
        WEBHOOK_INBOX_RETENTION_MS: String(2 * DAY),
      }),
    );
    // The scheduler's first run may already have done it; after this one, it is done.
    await harness.runMaintenance('prune');
    expect(await remaining('ctp_outbox', 'dedupe_key', 'job-published-')).toBe(0);
    expect(await remaining('ctp_webhook_inbox', 'webhook_id', 'job-processed-')).toBe(0);
    expect(await remaining('ctp_outbox', 'dedupe_key', 'new-published-')).toBe(2);
  });
});

describe('the scans of unfinished work', () => {
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };

  async function plan(sql: string, params: unknown[]): Promise<string> {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${numbered(sql)}`, params);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  }

  it('each read its partial index among many finished rows, never the whole table', async () => {
    await fillFinishedOperations(client, 1, 20_000);
    await client.query(
      `insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, received_at, processed_at, attempts)
       select 'done-' || g, 'ENBDTABBY', 'request.completed', '{}'::jsonb, now() - interval '1 day', now() - interval '1 day', 0
         from generate_series(1, 20000) g`,
    );
    await outboxRows('done-published-', 20_000, `now() - interval '1 day'`, `now() - interval '1 day'`);
    await client.query('analyze');
    const scans = [
      [PRUNE_PUBLISHED_OUTBOX_SQL, [3_600_000, 1_000], 'idx_ctp_outbox_published'],
      [CLAIM_DUE_TRACES_SQL, [60_000, 200], 'idx_ctp_request_id_tracking_due'],
      [STALE_QUEUED_OPERATIONS_SQL, [30_000, 3, 30_000, 500], 'idx_ctp_operation_queued'],
      [UNPROCESSED_WEBHOOKS_SQL, [30_000, 500], 'idx_ctp_webhook_inbox_unprocessed'],
      [
        'select count(*) from ctp_webhook_inbox where parked_at is not null',
        [],
        'idx_ctp_webhook_inbox_parked',
      ],
    ] as const;
    for (const [sql, params, index] of scans) {
      const text = await plan(sql, [...params]);
      expect(text, sql).toContain(index);
      expect(text, sql).not.toMatch(
        /Seq Scan on (ctp_operation|"ctp_requestIdTracking"|ctp_webhook_inbox|ctp_outbox)/,
      );
    }
  });
});

import {
  markOutboxPublishedByKey,
  recordAcceptedStatement,
  releaseOutboxRowsByKey,
  type Statement,
  stepWritesStatement,
  UPKEEP_STATISTICS_TARGET,
} from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOf } from './plans.ts';

/**
 * Issues 13 and 14: the hot steps find their rows by key, whatever is waiting. Recording a 202
 * tests the operation's `QUEUED` status, the resolve the trace's `IN_PROGRESS`, the outbox marks
 * a row's being unpublished, each beside a key lookup. Written as literals, those tests implied
 * the predicates of small partial indexes, and the generic plans read the whole index and
 * filtered every entry by key: every operation waiting (500 in a batch's window) on each
 * recording, every unpublished outbox row on each mark (`auto_explain`, BENCHMARKS.md eleventh
 * session; `docs/architecture.md`, "A status test beside a key lookup"). Here, 500 queued
 * operations, 500 traces in flight and 300 unpublished outbox rows among finished ones, planned as
 * the prepared statements are (generic, and custom), before ANALYZE, after the server's ANALYZE and
 * after one with the table upkeep's small sample (`UPKEEP_STATISTICS_TARGET`: on this machine the
 * upkeep's ANALYZE is the only one, and its 3,000-row sample must not change these plans).
 */

let db: TestDatabase;
let client: pg.Client;
const TENANT = 'ENBDPLAN';

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await client.query(
    `insert into ctp_operation (id, tenant, event, entity_id, status, completed_at)
     select gen_random_uuid(), $1, 'CTP_REGISTER_ENTITY_AND_KIT', 'e' || g,
            case when g <= 500 then 'QUEUED' else 'SUCCESS' end,
            case when g <= 500 then null else now() end
       from generate_series(1, 20000) g`,
    [TENANT],
  );
  await client.query(
    `insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, event, status_ctp, operation_id)
     select $1, 't' || g, 'e' || g, 'CTP_REGISTER_ENTITY_AND_KIT',
            case when g <= 500 then 'IN_PROGRESS' else 'SUCCESS' end, id
       from (select id, row_number() over () as g from ctp_operation where status <> 'QUEUED') o`,
    [TENANT],
  );
  await client.query(
    `insert into ctp_outbox (tenant, kind, topic, dedupe_key, payload, published_at)
     select $1, 'notification', 'notification', 'k' || g, '{}',
            case when g <= 300 then null else now() end
       from generate_series(1, 20000) g`,
    [TENANT],
  );
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const EMPTY = '[]';
const uuid = '00000000-0000-4000-8000-000000000001';

/** Each statement, and the partial index it must not read, and the key index it must. */
const cases = (): { statement: Statement; avoid: string; use: string }[] => [
  {
    statement: recordAcceptedStatement({
      accepted: JSON.stringify([{ operation_id: uuid, request_trace_id: 'tr1', first_poll_after_ms: 500 }]),
    }),
    avoid: 'idx_ctp_operation_queued',
    use: 'ctp_operation_pkey',
  },
  {
    statement: stepWritesStatement({
      customers_new: EMPTY,
      customers_set: EMPTY,
      payments_new: EMPTY,
      payments_set: EMPTY,
      operations_new: EMPTY,
      operations_end: JSON.stringify([{ id: uuid, status: 'IN_PROGRESS', to: 'SUCCESS' }]),
      traces_end: JSON.stringify([{ pkey: '7', to: 'SUCCESS' }]),
      webhooks_done: EMPTY,
      history: EMPTY,
      outbox: EMPTY,
    }),
    avoid: 'idx_ctp_request_id_tracking_due',
    use: 'ctp_requestIdTracking_pkey',
  },
  {
    statement: markOutboxPublishedByKey({ keys: ['k1', 'k2'] }),
    avoid: 'idx_ctp_outbox_unpublished',
    use: 'uq_ctp_outbox_dedupe_key',
  },
  {
    statement: releaseOutboxRowsByKey({ keys: ['k1', 'k2'] }),
    avoid: 'idx_ctp_outbox_unpublished',
    use: 'uq_ctp_outbox_dedupe_key',
  },
];

describe('the hot steps beside a status test', () => {
  const statistics = [
    { label: 'never analyzed', target: undefined },
    { label: "analyzed with the server's statistics target", target: 'server' },
    { label: "analyzed with the upkeep's statistics target", target: UPKEEP_STATISTICS_TARGET },
  ] as const;
  for (const { label, target } of statistics) {
    it(`find their rows by key, never through a partial index of the waiting ones (${label})`, async () => {
      if (target === 'server') await client.query('analyze');
      if (typeof target === 'number') {
        await client.query(`select set_config('default_statistics_target', $1, false)`, [String(target)]);
        await client.query('analyze');
        await client.query('reset default_statistics_target');
      }
      for (const { statement, avoid, use } of cases()) {
        for (const mode of ['force_generic_plan', 'force_custom_plan'] as const) {
          const plan = await planOf(client, statement, mode);
          expect(plan, `${statement.name}, ${mode}`).not.toContain(avoid);
          expect(plan, `${statement.name}, ${mode}`).toContain(use);
          expect(plan, `${statement.name}, ${mode}`).not.toMatch(
            /Seq Scan on (ctp_operation|"ctp_requestIdTracking"|ctp_outbox)\b/,
          );
        }
      }
    });
  }

  it('still touch only the rows in the status tested', async () => {
    const { rows: queued } = await client.query<{ id: string }>(
      `select id from ctp_operation where status = 'QUEUED' limit 1`,
    );
    const { rows: done } = await client.query<{ id: string }>(
      `select id from ctp_operation where status = 'SUCCESS' limit 1`,
    );
    const accepted = (id: string, trace: string) =>
      recordAcceptedStatement({
        accepted: JSON.stringify([{ operation_id: id, request_trace_id: trace, first_poll_after_ms: 500 }]),
      });
    await client.query('begin');
    try {
      const moved = await client.query<{ recorded: boolean }>({ ...accepted(queued[0]?.id ?? '', 'tr-new') });
      const refused = await client.query<{ recorded: boolean }>({ ...accepted(done[0]?.id ?? '', 'tr-old') });
      expect(moved.rows[0]?.recorded).toBe(true);
      expect(refused.rows[0]?.recorded).toBe(false);
      const mark = markOutboxPublishedByKey({ keys: ['k1', 'k400'] });
      const marked = await client.query(mark.text, [...mark.values]);
      // k1 is unpublished; k400 was published already and stays as it was.
      expect(marked.rowCount).toBe(1);
    } finally {
      await client.query('rollback');
    }
  });
});

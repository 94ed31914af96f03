import {
  BEGIN,
  COMMIT,
  defineStatement,
  lockEntitiesStatement,
  outboxJobRow,
  readTraceForResolve,
  recordAcceptedStatement,
  type Statement,
  StepWrites,
  sendPipelined,
} from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCardsInBulk } from './fixtures.ts';

/**
 * The hot statements that run with a generic plan (`generic`, `sendPipelined`): the group's
 * entity lock, the trace read of a resolve, the step writes (guarded and not) and the recording
 * of the SaaS's 202s. A generic plan is made once for any values, so it must reach every row
 * through a unique index or a primary key whatever the tables hold: here 20,000 entities with
 * cards, 20,000 finished operations with their traces, never analyzed and then analyzed (where
 * autovacuum is off the tables may be either).
 */

let db: TestDatabase;
let client: pg.Client;
const OP = '00000000-0000-4000-8000-0000000000aa';

beforeAll(async () => {
  db = await createTestDatabase();
  // Pipelined, as the pool of `@ctp/db` is (`sendPipelined` hands it every statement at once).
  client = new pg.Client({ connectionString: db.databaseUrl, pipeline: true } as pg.ClientConfig);
  await client.connect();
  await seedCardsInBulk(client, { entities: 20_000, enrolled: 5_000 });
  await client.query(
    `insert into ctp_operation (id, tenant, event, entity_id, kit_number, status, completed_at)
     select gen_random_uuid(), tenant, 'CTP_REGISTER_ENTITY_AND_KIT', entity_id, entity_id || 'k', 'SUCCESS', now()
       from business_entity`,
  );
  await client.query(
    `insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, kit_number, event, status_ctp, operation_id)
     select tenant, 'trace-' || entity_id, entity_id, kit_number, event, 'SUCCESS', id from ctp_operation`,
  );
  await client.query(
    `insert into ctp_status_history (tenant, entity_id, kit_number, record, from_status, to_status, cause, operation_id)
     select tenant, entity_id, kit_number, 'kit', 'UNREGISTERED', 'ACTIVE', 'seed', id from ctp_operation`,
  );
  await client.query(
    `insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, processed_at)
     select 'wh-' || g, 'ENBDTABBY', 'request.completed', '{}'::jsonb, now() from generate_series(1, 20000) g`,
  );
  await client.query(
    `insert into ctp_pending_sync (tenant, entity_id, event)
     select tenant, entity_id, 'CTP_UPDATE_ENTITY' from business_entity where pkey % 10 = 0`,
  );
  await client.query(
    `insert into ctp_kit_replacement (id, tenant, entity_id, old_kit_number, new_kit_number, reason, status)
     select gen_random_uuid(), tenant, entity_id, entity_id || 'k', entity_id || 'n', 'REISSUE', 'COMPLETED'
       from business_entity where pkey % 10 = 1`,
  );
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** A value as a literal for the `execute` of the explain (a test's own fixed values). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value))
    return client.escapeLiteral(`{${value.map((v) => JSON.stringify(String(v))).join(',')}}`);
  return client.escapeLiteral(String(value));
}

/** The plan PostgreSQL keeps for the statement when its generic plan is forced. */
async function genericPlanOf(statement: Statement): Promise<string> {
  await client.query('begin');
  try {
    await client.query('set local plan_cache_mode = force_generic_plan');
    await client.query(`prepare probe as ${statement.text}`);
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain execute probe(${statement.values.map(literal).join(', ')})`,
    );
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('rollback');
    await client.query('deallocate all');
  }
}

function hotStatements(): Statement[] {
  const guarded = new StepWrites();
  guarded.history(
    { tenant: 'ENBDTABBY', entityId: 'e7' },
    { record: 'trace', kitNo: 'e7k', from: 'IN_PROGRESS', to: 'SUCCESS' },
    { cause: 'test', operationId: OP },
  );
  guarded.finishOperation({ id: OP, status: 'IN_PROGRESS' }, 'SUCCESS', null);
  guarded.resolveTrace('42', 'SUCCESS', null);
  guarded.markWebhookProcessed('wh-1');
  guarded.outbox(outboxJobRow('submit', { tenant: 'ENBDTABBY', key: OP, operationId: OP, data: {} }));
  const unguarded = new StepWrites();
  unguarded.history(
    { tenant: 'ENBDTABBY', entityId: 'e7' },
    { record: 'entity', from: 'UNREGISTERED', to: 'REGISTRATION_IN_PROGRESS' },
    { cause: 'test', operationId: OP },
  );
  unguarded.outbox(outboxJobRow('submit', { tenant: 'ENBDTABBY', key: OP, operationId: OP, data: {} }));
  return [
    lockEntitiesStatement({
      tenants: ['ENBDTABBY'],
      entity_ids: ['e7'],
      operation_ids: [OP],
      trace_tenants: ['ENBDTABBY'],
      trace_ids: ['trace-e9'],
    }),
    readTraceForResolve('ENBDTABBY', 'trace-e9'),
    guarded.statement(),
    unguarded.statement(),
    recordAcceptedStatement({
      accepted: JSON.stringify([{ operation_id: OP, request_trace_id: 't-1', first_poll_after_ms: 1000 }]),
    }),
  ].filter((statement): statement is Statement => statement !== null);
}

describe('the hot statements that run with a generic plan', () => {
  it('are the ones marked so', () => {
    expect(hotStatements().map((s) => [s.name, s.generic])).toEqual([
      ['ctp_lock_entities', true],
      ['ctp_read_trace_for_resolve', true],
      ['ctp_step_writes', true],
      ['ctp_step_writes_unguarded', true],
      ['ctp_record_accepted', true],
    ]);
  });

  for (const analyzed of [false, true]) {
    it(`reach their rows by key, never by a sequential scan (${analyzed ? 'analyzed' : 'never analyzed'})`, async () => {
      if (analyzed) await client.query('analyze');
      for (const statement of hotStatements()) {
        const plan = await genericPlanOf(statement);
        expect(plan, statement.name).not.toMatch(/Seq Scan on (?!jsonb|unnest)/);
      }
    });
  }
});

describe('sendPipelined', () => {
  it("forces the generic plan around a run of generic statements only, and answers each statement's own rows", async () => {
    const mode = (name: string, generic: boolean) =>
      defineStatement<{ tag: string }, { tag: string; mode: string }>(
        name,
        `select $tag::text as tag, current_setting('plan_cache_mode') as mode`,
        { generic },
      );
    const generic = mode('test_mode_generic', true);
    const plain = mode('test_mode_plain', false);
    const results = await sendPipelined(client as unknown as pg.PoolClient, [
      BEGIN,
      plain({ tag: 'a' }),
      generic({ tag: 'b' }),
      generic({ tag: 'c' }),
      plain({ tag: 'd' }),
      generic({ tag: 'e' }),
      COMMIT,
    ]);
    expect(results.map((r) => r.rows[0] ?? null)).toEqual([
      null,
      { tag: 'a', mode: 'auto' },
      { tag: 'b', mode: 'force_generic_plan' },
      { tag: 'c', mode: 'force_generic_plan' },
      { tag: 'd', mode: 'auto' },
      { tag: 'e', mode: 'force_generic_plan' },
      null,
    ]);
  });
});

import { DEFAULT_PLANS, GENERIC_PLANS, lockEntitiesStatement } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCardsInBulk } from './fixtures.ts';

/**
 * The group commit's lock (`ctp_lock_entities`) runs with a generic plan (PostgreSQL planned it
 * anew on every call when left to choose). A generic plan does not know how many keys come, so
 * it must find each key by its unique index whatever the tables hold: the earlier text's generic
 * plan hashed the key sets against sequential scans of `business_entity`.
 */

let db: TestDatabase;
let client: pg.Client;
const params = { tenants: [], entity_ids: [], operation_ids: [], trace_tenants: [], trace_ids: [] };

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await seedCardsInBulk(client, { entities: 20_000, enrolled: 0 });
  await client.query(
    `insert into ctp_operation (id, tenant, event, entity_id, status, completed_at)
     select gen_random_uuid(), tenant, 'CTP_REGISTER_ENTITY_AND_KIT', entity_id, 'SUCCESS', now()
       from business_entity`,
  );
  await client.query(
    `insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, event, status_ctp, operation_id)
     select tenant, 'trace-' || entity_id, entity_id, event, 'SUCCESS', id from ctp_operation`,
  );
  await client.query('analyze');
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

async function planOf(values: readonly unknown[]): Promise<string> {
  const { text } = lockEntitiesStatement(params);
  await client.query('begin');
  try {
    await client.query(GENERIC_PLANS({}).text);
    await client.query(`prepare lock_entities as ${text}`);
    const literal = (value: unknown) => `'{${(value as string[]).join(',')}}'`;
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain execute lock_entities(${values.map(literal).join(', ')})`,
    );
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('rollback');
    await client.query('deallocate all');
  }
}

describe("the group commit's entity lock", () => {
  it('finds every key by a unique index in its generic plan: no sequential scan, no hash join', async () => {
    const { rows } = await client.query<{ id: string }>('select id from ctp_operation limit 1');
    const plan = await planOf([['ENBDTABBY'], ['e7'], [rows[0]?.id], ['ENBDTABBY'], ['trace-e9']]);
    expect(plan).toContain('business_entity_pkey');
    expect(plan).toContain('uq_business_entity_tenant_entity_id');
    expect(plan).toContain('idx_ctp_requestIdTracking');
    expect(plan).not.toContain('Seq Scan');
    expect(plan).not.toContain('Hash');
  });

  it('locks the entities of all three kinds of key, each once, and sets the plan mode back', async () => {
    const { rows: ops } = await client.query<{ id: string }>(
      `select id from ctp_operation where entity_id = 'e3'`,
    );
    await client.query('begin');
    try {
      const run = async (statement: { text: string; values: readonly unknown[] }) =>
        (await client.query(statement.text, [...statement.values])).rows;
      await run(GENERIC_PLANS({}));
      const locked = await run(
        lockEntitiesStatement({
          tenants: ['ENBDTABBY', 'ENBDTABBY', 'ENBDTABBY'],
          entity_ids: ['e1', 'e2', 'nobody'],
          operation_ids: [ops[0]?.id ?? ''],
          trace_tenants: ['ENBDTABBY', 'ENBDTABBY', 'OTHER'],
          trace_ids: ['trace-e4', 'trace-e1', 'trace-e5'],
        }),
      );
      await run(DEFAULT_PLANS({}));
      const { rows: mode } = await client.query<{ plan_cache_mode: string }>('show plan_cache_mode');
      const { rows: expected } = await client.query<{ pkey: string }>(
        `select pkey from business_entity where entity_id in ('e1', 'e2', 'e3', 'e4') order by pkey`,
      );
      expect(locked).toEqual(expected);
      expect(mode[0]?.plan_cache_mode).toBe('auto');
    } finally {
      await client.query('rollback');
    }
  });
});

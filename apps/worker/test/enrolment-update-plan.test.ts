import { UPDATE_CUSTOMERS_CTE, UPDATE_PAYMENTS_CTE } from '@ctp/core/operations';
import { POOL_CONNECTION_LIFETIME_S, POOL_IDLE_TIMEOUT_MS, sqlPool } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCardsInBulk } from './fixtures.ts';

/**
 * Issue 13, "cost flat as the tables grow": a step that changes an entity's or a kit's CTP
 * status updates its `ctp_customer` / `ctp_payment` row from a JSON set. Joined to the set only
 * on the key, the update was planned as a hash join over a sequential scan of the whole table,
 * so every resolve read every customer and payment (BENCHMARKS.md, fourth session). Seen here
 * as the plan of each update among 5,000 enrolled entities.
 */

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await seedCardsInBulk(client, { entities: 5_000, enrolled: 5_000 });
  await client.query('analyze');
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** The plan of one CTE of the step writes, its set bound as `$1` (one row). */
async function plan(cte: string, set: string): Promise<string> {
  const text = `with ok as (select true as applied), ${cte} select 1`.replaceAll(`$${set}`, '$1');
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${text}`, [
    JSON.stringify([{ pkey: 42, status: 'ACTIVE', customerId: 'c', instrumentId: 'i' }]),
  ]);
  return rows.map((row) => row['QUERY PLAN']).join('\n');
}

describe('the step writes of the CTP enrolment', () => {
  it.each([
    ['ctp_customer', UPDATE_CUSTOMERS_CTE, 'customers_set', 'ctp_customer_pkey'],
    ['ctp_payment', UPDATE_PAYMENTS_CTE, 'payments_set', 'ctp_payment_pkey'],
  ])('update %s through its primary key, never a scan of the table', async (table, cte, set, index) => {
    const text = await plan(cte, set);
    expect(text).toContain(index);
    expect(text).not.toContain(`Seq Scan on ${table}`);
  });
});

describe("the pool's connections", () => {
  it('are kept warm: idle for 10 minutes before they close, renewed after 30', async () => {
    // A new connection is a new backend that prepares and plans every statement again; the
    // lifetime only bounds a backend's age (see `POOL_CONNECTION_LIFETIME_S`).
    const pool = await sqlPool(db.orm);
    const options = pool.options as { maxLifetimeSeconds?: number; idleTimeoutMillis?: number };
    expect(options.maxLifetimeSeconds).toBe(POOL_CONNECTION_LIFETIME_S);
    expect(options.idleTimeoutMillis).toBe(POOL_IDLE_TIMEOUT_MS);
    expect(POOL_IDLE_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000);
  });

  it('replan a prepared statement after an ANALYZE, so a plan made on a nearly empty table does not stay', async () => {
    // What the long lifetime relies on: the generic plan a connection settled on while the table
    // was small is dropped by the next ANALYZE (autovacuum's, or the worker's table upkeep).
    // Autovacuum off for this table whatever the server's setting, so only the test analyzes it.
    await client.query(
      'create table plan_probe (id int primary key, v int not null) with (autovacuum_enabled = false)',
    );
    await client.query('create index plan_probe_v on plan_probe (v)');
    await client.query('insert into plan_probe select g, g % 2 from generate_series(1, 10) g');
    await client.query('analyze plan_probe');
    await client.query('prepare probe(int) as select count(*) from plan_probe where v = $1');
    for (let i = 0; i < 7; i++) await client.query('execute probe(1)');
    const planOf = async () =>
      (await client.query<{ 'QUERY PLAN': string }>('explain execute probe(1)')).rows
        .map((row) => row['QUERY PLAN'])
        .join('\n');
    expect(await planOf()).toContain('Seq Scan on plan_probe');
    await client.query('insert into plan_probe select g, g from generate_series(11, 100000) g');
    // Before the ANALYZE the connection still runs the plan made for ten rows.
    expect(await planOf()).toContain('Seq Scan on plan_probe');
    await client.query('analyze plan_probe');
    expect(await planOf()).toContain('plan_probe_v');
    await client.query('deallocate probe');
  });
});

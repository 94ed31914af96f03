import { UPDATE_CUSTOMERS_CTE, UPDATE_PAYMENTS_CTE } from '@ctp/core/operations';
import { POOL_CONNECTION_LIFETIME_S, sqlPool } from '@ctp/db';
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
  it('are replaced after their lifetime, so plans made on nearly empty tables do not stay', async () => {
    // A generic plan kept by a connection is only re-made on a new connection (or after an
    // ANALYZE); the lifetime bounds how long a plan made for smaller tables can be used.
    const pool = await sqlPool(db.orm);
    expect((pool.options as { maxLifetimeSeconds?: number }).maxLifetimeSeconds).toBe(
      POOL_CONNECTION_LIFETIME_S,
    );
    expect(POOL_CONNECTION_LIFETIME_S).toBeGreaterThan(0);
  });
});

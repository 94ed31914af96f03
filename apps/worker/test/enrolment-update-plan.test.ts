import { UPDATE_CUSTOMERS_CTE, UPDATE_PAYMENTS_CTE } from '@ctp/core/operations';
import { POOL_CONNECTION_LIFETIME_S, sqlPool } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
  await client.query(
    `insert into business_entity (tenant, entity_id, first_name, last_name, email, phone_country_code,
            phone_number, address, locale, country_code)
     select 'ENBDTABBY', 'e' || g, 'A', 'B', 'a@example.com', '971', '501234567', '{}'::jsonb, 'en_AE', 'AE'
       from generate_series(1, 5000) g`,
  );
  await client.query(
    `insert into kit (tenant, kit_no, pan_ciphertext, pan_key_id, pan_first6, pan_last4, expiry_month, expiry_year,
            name_on_card, business_entity_fkey)
     select tenant, entity_id || 'k', 'x', 'k1', '411111', '1111', 12, 2030, 'A B', pkey from business_entity`,
  );
  await client.query(
    `insert into ctp_customer (tenant, entity_id, ctp_entity_status, business_entity_fkey)
     select tenant, entity_id, 'ACTIVE', pkey from business_entity`,
  );
  await client.query(
    `insert into ctp_payment (tenant, ctp_kit_status, ctcustomer_pkey, kit_pkey)
     select c.tenant, 'ACTIVE', c.pkey, k.pkey from ctp_customer c join kit k on k.business_entity_fkey = c.business_entity_fkey`,
  );
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

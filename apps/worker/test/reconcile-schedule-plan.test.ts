import { ensureSchedules, ensureSchedulesStatement } from '@ctp/core/reconciliation';
import { sqlPool } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The reconciliation tick (every second) finds the tenants that need a scheduled run without
 * reading every customer: a loose index scan of the tenants, whatever the table holds.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('the scheduled reconciliation tick', () => {
  it('skips through the tenants by index among 20,000 customers, and starts one run per tenant', async () => {
    const pool = await sqlPool(db.orm);
    await pool.query(
      `insert into business_entity (tenant, entity_id, first_name, last_name, email, phone_country_code,
              phone_number, address, locale, country_code)
       select case when g % 2 = 0 then 'TENANTA' else 'TENANTB' end, 'e-' || g, 'F', 'L', 'e@x.io', '971',
              '500000000', '{}'::jsonb, 'en_AE', 'AE'
         from generate_series(1, 20000) g`,
    );
    await pool.query(
      `insert into ctp_customer (tenant, entity_id, ctp_entity_status, business_entity_fkey)
       select tenant, entity_id, case when entity_id = 'e-7' or tenant = 'TENANTA' then 'ACTIVE' else 'UNREGISTERED' end, pkey
         from business_entity`,
    );
    await pool.query('analyze');
    expect(await ensureSchedules(db.orm.em.fork(), 60_000)).toBe(2);
    // The next ticks, with both runs going: what the statement reads when nothing is due. A run's
    // start reads its tenant's customers (its items); a tick that starts none reads none.
    const statement = ensureSchedulesStatement({ period_ms: 60_000 });
    const client = await pool.connect();
    let plan: string;
    try {
      await client.query('begin');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `explain (analyze, costs off, timing off) ${statement.text}`,
        [...statement.values],
      );
      plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await client.query('rollback');
      client.release();
    }
    // Rows of ctp_customer the tick read (a scan that starts and stops at once reads one).
    const read = [...plan.matchAll(/on ctp_customer \w* ?\(actual rows=(\d+) loops=(\d+)\)/g)].reduce(
      (sum, [, rows, loops]) => sum + Number(rows) * Number(loops),
      0,
    );
    expect(read).toBeLessThan(10);
    expect(await ensureSchedules(db.orm.em.fork(), 60_000)).toBe(0);
    const { rows: items } = await pool.query<{ tenant: string; n: string }>(
      `select r.tenant, count(i.*) as n from ctp_reconciliation r
         join ctp_reconciliation_item i on i.reconciliation_id = r.id group by r.tenant order by r.tenant`,
    );
    expect(items).toEqual([
      { tenant: 'TENANTA', n: '10000' },
      { tenant: 'TENANTB', n: '1' },
    ]);
  });
});

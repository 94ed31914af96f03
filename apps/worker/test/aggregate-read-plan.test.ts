import { AGGREGATE_COLUMNS, AGGREGATE_FROM } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCardsInBulk } from './fixtures.ts';

/**
 * Issue 13, "cost flat as the tables grow": every step reads its entity's aggregate, with the
 * payment of each kit. In the bench (30,000 customers with a card each, 3,000 of them enrolled
 * so far, nothing analyzed: autovacuum is off on this machine) the payments were joined by hash
 * over a sequential scan of `ctp_payment`, about twice per operation, until the table held some
 * 15,000 rows (BENCHMARKS.md, fourth session). Seen here as the plan of the aggregate read, in
 * the generic form a prepared statement keeps.
 */

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await seedCardsInBulk(client, { entities: 30_000, enrolled: 3_000 });
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

describe("the aggregate read's payments", () => {
  it('are looked up per kit by their unique index, never by a scan of ctp_payment', async () => {
    await client.query('set plan_cache_mode = force_generic_plan');
    await client.query(
      `prepare aggregate(text, text) as select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM}
        where e.tenant = $1 and e.entity_id = $2`,
    );
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain execute aggregate('ENBDTABBY', 'e42')`,
    );
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toContain('idx_ctp_payment_kit');
    expect(plan).not.toContain('Seq Scan on ctp_payment');
  });
});

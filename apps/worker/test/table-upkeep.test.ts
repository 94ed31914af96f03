import {
  keepTablesUp,
  lockEntityOfTrace,
  queryBound,
  SERVICE_TABLES,
  UPKEEP_STATISTICS_TARGET,
} from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCardsInBulk } from './fixtures.ts';

/**
 * Issue 13, "a plan that changes": with autovacuum off (as on this project's machines) no table
 * is ever analyzed, an equality on `tenant` is estimated at a row or two, and the generic plans
 * of the hot statements walked every operation or entity of the tenant through an index that
 * leads with `tenant` (`table-upkeep.ts` has the figures); and no dead row is ever vacuumed. The
 * worker does autovacuum's work by autovacuum's rules where autovacuum does not.
 */

let db: TestDatabase;
let client: pg.Client;

const OPERATIONS = 3_000;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await seedCardsInBulk(client, { entities: OPERATIONS, enrolled: OPERATIONS });
  // One finished operation per entity, with its trace.
  await client.query(
    `insert into ctp_operation (id, tenant, event, entity_id, status, idempotency_key)
     select gen_random_uuid(), tenant, 'CTP_REGISTER_ENTITY_AND_KIT', entity_id, 'SUCCESS', 'key-' || entity_id
       from business_entity`,
  );
  await client.query(
    `insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, event, status_ctp, operation_id)
     select tenant, 'trace-' || entity_id, entity_id, event, 'SUCCESS', id from ctp_operation`,
  );
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/**
 * A backend reports its counts to the statistics when idle, up to 10 s after its commit; the
 * test's connection reports its writes now, for the upkeep's thresholds to see them.
 */
async function reportCountsNow(): Promise<void> {
  await client.query('select pg_stat_force_next_flush()');
  await client.query('select 1');
}

/** The generic plan of the lock a webhook's step takes through its trace. */
async function genericPlanOfLockThroughTrace(): Promise<string> {
  await client.query('deallocate all');
  await client.query('set plan_cache_mode = force_generic_plan');
  await client.query(`prepare lock_through_trace(text, text) as ${lockEntityOfTrace('T', 'x').text}`);
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(
    `explain execute lock_through_trace('ENBDTABBY', 'trace-e42')`,
  );
  return rows.map((row) => row['QUERY PLAN']).join('\n');
}

describe('table upkeep where autovacuum is off', () => {
  it('knows every table of the migrated schema', async () => {
    const { rows } = await client.query<{ name: string }>(
      `select tablename as name from pg_tables
        where schemaname = current_schema() and tablename <> 'mikro_orm_migrations' order by 1`,
    );
    expect([...SERVICE_TABLES].sort()).toEqual(rows.map((row) => row.name).sort());
  });

  it('without statistics, the lock through a trace walks every entity of the tenant', async () => {
    // The premise: an equality on the tenant alone is estimated at a row, so the entity's key is
    // a filter on the tenant's entities instead of a condition of the unique index.
    const plan = await genericPlanOfLockThroughTrace();
    expect(plan).toMatch(/Join Filter: \(\(t\.entity_id\)::text = \(e\.entity_id\)::text\)/);
  });

  it('analyzes the tables past the threshold, and then none until they change again', async () => {
    await reportCountsNow();
    const first = await keepTablesUp(db.orm.em.fork(), { evenWithAutovacuum: true });
    expect(first.analyzed).toEqual(
      expect.arrayContaining([
        'business_entity',
        'kit',
        'ctp_customer',
        'ctp_payment',
        'ctp_operation',
        'ctp_requestIdTracking',
      ]),
    );
    expect(first.analyzed).not.toContain('ctp_outbox');
    expect(first.vacuumed).toEqual([]);
    expect(await keepTablesUp(db.orm.em.fork(), { evenWithAutovacuum: true })).toEqual({
      vacuumed: [],
      analyzed: [],
    });
  });

  it('then the lock through a trace finds the entity by both columns of its unique index', async () => {
    const plan = await genericPlanOfLockThroughTrace();
    expect(plan).toMatch(
      /Index Scan using uq_business_entity_tenant_entity_id on business_entity e[^\n]*\n\s*Index Cond: \(\(\(tenant\)::text = \$1\) AND \(\(entity_id\)::text = \(t\.entity_id\)::text\)\)/,
    );
    expect(plan).not.toContain('Join Filter');
  });

  it('vacuums a table whose dead rows pass the threshold, and leaves it alone after', async () => {
    // Every operation updated once: 3,000 dead versions, past 50 + 20 % of 3,000.
    await client.query(`update ctp_operation set attempts = attempts + 1`);
    await reportCountsNow();
    const done = await keepTablesUp(db.orm.em.fork(), { evenWithAutovacuum: true });
    expect(done.vacuumed).toEqual(['ctp_operation']);
    const { rows } = await client.query<{ dead: string }>(
      `select n_dead_tup::text as dead from pg_stat_user_tables
        where schemaname = current_schema() and relname = 'ctp_operation'`,
    );
    expect(Number(rows[0]?.dead)).toBe(0);
    expect((await keepTablesUp(db.orm.em.fork(), { evenWithAutovacuum: true })).vacuumed).toEqual([]);
    // Throttled like autovacuum on a connection of its own, which is not handed back to the pool.
    const pooled = await queryBound<{ delay: string }>(
      db.orm.em.fork(),
      `select current_setting('vacuum_cost_delay') as delay`,
      [],
    );
    expect(pooled[0]?.delay).toBe('0');
  });

  it("analyzes with a small sample, and leaves the pooled connections the server's target", async () => {
    // 3,000 distinct entity ids: at the server's target (100) the histogram has 101 bounds; at
    // the upkeep's, UPKEEP_STATISTICS_TARGET + 1.
    await client.query(`update business_entity set updated_at = updated_at`);
    await reportCountsNow();
    const done = await keepTablesUp(db.orm.em.fork(), { evenWithAutovacuum: true });
    expect(done.analyzed).toContain('business_entity');
    const bounds = async (): Promise<number> => {
      const { rows } = await client.query<{ bounds: number }>(
        `select array_length(histogram_bounds::text::text[], 1) as bounds from pg_stats
          where schemaname = current_schema() and tablename = 'business_entity' and attname = 'entity_id'`,
      );
      return Number(rows[0]?.bounds);
    };
    expect(await bounds()).toBe(UPKEEP_STATISTICS_TARGET + 1);
    const pooled = await queryBound<{ target: string }>(
      db.orm.em.fork(),
      `select current_setting('default_statistics_target') as target`,
      [],
    );
    expect(Number(pooled[0]?.target)).toBeGreaterThan(UPKEEP_STATISTICS_TARGET);
    // The same table analyzed at the server's target, for contrast.
    await client.query('analyze business_entity');
    expect(await bounds()).toBe(Number(pooled[0]?.target) + 1);
  });
});

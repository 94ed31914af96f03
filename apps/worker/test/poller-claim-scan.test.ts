import { claimDueTraces } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The poller's claim (once a second) must not read every resolved trace again until a VACUUM
 * runs. A trace leaves the partial index `idx_ctp_request_id_tracking_due` when it is resolved,
 * but its entry stays there, dead, until the table is vacuumed or an index scan finds it dead
 * and marks it. The claim's bitmap scan never marked: at 22,000 resolved traces each claim read
 * them all and their table pages, 80 ms a second (BENCHMARKS.md, fourth session). Seen here as
 * the entries the claim left marked dead, as in `relay-claim-scan.test.ts`.
 */

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  await client.query('create extension if not exists pageinspect');
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** Entries of the due-traces index marked dead (LP_DEAD) by a scan. */
async function markedDeadEntries(): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `select count(*)::int as n
       from generate_series(1, (pg_relation_size('idx_ctp_request_id_tracking_due') / 8192)::int - 1) as block,
            bt_page_items('idx_ctp_request_id_tracking_due', block)
      where dead`,
  );
  return rows[0]?.n ?? 0;
}

describe("the poller's claim", () => {
  it('marks the index entries of resolved traces dead, so the next claims skip them', async () => {
    // 2,000 traces polled while in progress, then resolved, as the webhooks leave them (no VACUUM since).
    await client.query(
      `with ops as (
         insert into ctp_operation (id, tenant, event, entity_id, kit_number, status, created_at, updated_at)
         select gen_random_uuid(), 'ENBDTABBY', 'CTP_REGISTER_ENTITY_AND_KIT', 'e' || g, 'k' || g, 'IN_PROGRESS',
                now(), now()
           from generate_series(1, 2000) g
         returning id, entity_id, kit_number)
       insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, kit_number, event, status_ctp,
              operation_id, next_poll_at, created_at, updated_at)
       select 'ENBDTABBY', 't-' || entity_id, entity_id, kit_number, 'CTP_REGISTER_ENTITY_AND_KIT', 'IN_PROGRESS',
              -- Distinct instants, as traces have: equal keys would share one (deduplicated) entry.
              id, now() - interval '1 second' - row_number() over () * interval '1 millisecond', now(), now()
         from ops`,
    );
    await client.query(
      `update "ctp_requestIdTracking" set status_ctp = 'SUCCESS', next_poll_at = null, resolved_at = now()`,
    );
    expect(await markedDeadEntries()).toBe(0);
    // A scan marks an entry once the row's old version is dead to every transaction, which a
    // transaction that began before the update can delay for a moment (see the relay's test).
    // A bitmap scan marks nothing however many claims run.
    let marked = 0;
    for (let claim = 0; claim < 50 && marked < 2000; claim++) {
      if (claim > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await claimDueTraces(db.orm.em, 60_000, 200)).toEqual([]);
      marked = await markedDeadEntries();
    }
    expect(marked).toBe(2000);
  });
});

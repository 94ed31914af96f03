import { queuedOfBatches, settleBatchItems } from '@ctp/core/batches';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOf } from './plans.ts';

/**
 * Issues 13 and 14, "cost flat as the tables grow": each run of the batch feeder settles the
 * started items whose operations ended and counts the lane's operations still queued. Both join
 * a batch's started items with their operations. In the 10,000-item bench batch the settle was
 * planned as a hash join over a sequential scan of `ctp_operation` (22 ms a run, growing with
 * every operation the table keeps) and the queue count as a nested loop over the whole `QUEUED`
 * index for each started item (48 ms), and with an `= any(array(…))` of the started operations
 * added, as a probe of the index per element of the array for each item (30 ms for 500):
 * `auto_explain`, BENCHMARKS.md tenth session. Here, a
 * batch's window of started items among 40,000 finished operations, planned as the prepared
 * statements are (generic, and custom), before and after ANALYZE.
 */

let db: TestDatabase;
let client: pg.Client;
const BATCH = '00000000-0000-4000-8000-00000000b001';

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.databaseUrl });
  await client.connect();
  // Finished operations of earlier work, and a batch: 3,000 items settled, a window of 500
  // started (their operations queued, in progress or just ended), 1,000 pending.
  await client.query(
    `insert into ctp_operation (id, tenant, event, entity_id, status, completed_at)
     select gen_random_uuid(), 'ENBDPLAN', 'CTP_REGISTER_ENTITY_AND_KIT', 'old' || g, 'SUCCESS', now()
       from generate_series(1, 40000) g`,
  );
  await client.query(
    `insert into ctp_batch (id, tenant, request_hash, status) values ($1, 'ENBDPLAN', 'h', 'RUNNING')`,
    [BATCH],
  );
  await client.query(
    `with items as (
       select g, gen_random_uuid() as op,
              case when g <= 3000 then 'SUCCEEDED' when g <= 3500 then 'IN_PROGRESS' else 'PENDING' end as item_status,
              case when g <= 3000 then 'SUCCESS' when g <= 3250 then 'QUEUED'
                   when g <= 3450 then 'IN_PROGRESS' else 'SUCCESS' end as op_status
         from generate_series(1, 4500) g),
     ops as (
       insert into ctp_operation (id, tenant, event, entity_id, kit_number, status)
       select op, 'ENBDPLAN', 'CTP_REGISTER_ENTITY_AND_KIT', 'b' || g, 'b' || g || 'k', op_status
         from items where g <= 3500)
     insert into ctp_batch_item (batch_id, seq, entity_id, kit_number, status, operation_id)
     select $1, g, 'b' || g, 'b' || g || 'k', item_status, case when g <= 3500 then op end from items`,
    [BATCH],
  );
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** Each scan of `ctp_operation` in a plan, with its conditions and the nodes under it. */
function operationScans(plan: string): string[] {
  const lines = plan.split('\n');
  const indent = (line: string) => line.length - line.trimStart().length;
  return lines.flatMap((line, at) => {
    if (!/ on ctp_operation /.test(line)) return [];
    const below = lines.slice(at + 1);
    const end = below.findIndex((next) => indent(next) <= indent(line));
    return [line, ...(end < 0 ? below : below.slice(0, end))];
  });
}

const statements = () => [settleBatchItems({ batch_id: BATCH }), queuedOfBatches({ batch_ids: [BATCH] })];

describe("the batch feeder's reads of its started items", () => {
  for (const analyzed of [false, true]) {
    it(`look their operations up by primary key, never by a scan (${analyzed ? 'analyzed' : 'never analyzed'})`, async () => {
      if (analyzed) await client.query('analyze');
      for (const statement of statements()) {
        for (const mode of ['force_generic_plan', 'force_custom_plan'] as const) {
          const plan = await planOf(client, statement, mode);
          expect(plan, `${statement.name}, ${mode}`).toContain('ctp_operation_pkey');
          expect(plan, `${statement.name}, ${mode}`).not.toContain('Seq Scan on ctp_operation');
          expect(plan, `${statement.name}, ${mode}`).not.toContain('idx_ctp_operation_queued');
          // One probe of the primary key per item, never a probe per element of an array.
          expect(operationScans(plan).join('\n'), `${statement.name}, ${mode}`).not.toContain('ANY');
        }
      }
    });
  }

  it('settle the ended ones and count the queued ones', async () => {
    const [queued] = (await client.query<{ n: number }>({ ...queuedOfBatches({ batch_ids: [BATCH] }) })).rows;
    expect(queued?.n).toBe(250);
    const [settled] = (await client.query<{ n: number }>({ ...settleBatchItems({ batch_id: BATCH }) })).rows;
    expect(settled?.n).toBe(50);
  });
});

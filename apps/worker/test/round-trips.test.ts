import { processWebhook, recordAccepted, recordWebhook, requestOperation } from '@ctp/core/operations';
import { createOrm } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from './fixtures.ts';

/**
 * What one operation costs the database, counted, not timed: round trips (statements handed to
 * a connection in the same tick travel together, pipelined, so they count once) and commits
 * (`pg_stat_database.xact_commit`, read-only autocommit statements included). The steps are
 * the ones every operation takes: accept the request, record the SaaS's 202, take the webhook
 * in, process it (resolve the trace). The relay's claim and mark are per batch, not counted here.
 */

let db: TestDatabase;
const T = 'ENBDTABBY';
const OPERATIONS = 20;

let roundTrips = 0;
let sameTick = false;
const query = pg.Client.prototype.query;

beforeAll(async () => {
  db = await createTestDatabase();
  // Count the moments a connection is given work: queries issued in one tick go out together.
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (!sameTick) {
      roundTrips += 1;
      sameTick = true;
      process.nextTick(() => {
        sameTick = false;
      });
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
});
afterAll(async () => {
  pg.Client.prototype.query = query;
  await db.drop();
});

async function commits(): Promise<number> {
  // A connection's counters reach the shared statistics at the latest when it ends: the steps
  // run on their own ORM, closed before this reads.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [row] = await db.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>(
      `select pg_stat_clear_snapshot(), (select xact_commit from pg_stat_database where datname = current_database())::text as n`,
    );
  return Number(row?.n);
}

describe('the cost of one operation', () => {
  it('round trips and commits per operation, from request to resolved trace', async () => {
    for (let i = 0; i < OPERATIONS; i++) await seedEntity(db.orm, T, `rt-${i}`, [`rt-${i}-k`]);
    const orm = await createOrm({ databaseUrl: db.databaseUrl });
    await orm.em.fork().getConnection().execute('select 1');
    const before = await commits();
    const startTrips = roundTrips;
    for (let i = 0; i < OPERATIONS; i++) {
      const { operation } = await requestOperation(orm.em.fork(), {
        tenant: T,
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        entityId: `rt-${i}`,
        kitNo: `rt-${i}-k`,
      });
      await recordAccepted(orm.em.fork(), {
        operationId: operation.id,
        requestTraceId: `rt-trace-${i}`,
        firstPollAfterMs: 60_000,
      });
      const webhookId = `rt-webhook-${i}`;
      await recordWebhook(orm.em.fork(), {
        webhookId,
        body: {
          type: 'request.completed',
          tenant: T,
          data: {
            requestTraceId: `rt-trace-${i}`,
            event: 'CTP_REGISTER_ENTITY_AND_KIT',
            status: 'SUCCESS',
            externalConsumerId: `rt-${i}`,
            externalInstrumentId: `rt-${i}-k`,
            updatedAt: new Date().toISOString(),
            clickToPayCustomerId: `rt-customer-${i}`,
            clickToPayPaymentInstrumentId: `rt-instrument-${i}`,
          },
        },
      });
      expect(await processWebhook(orm.em.fork(), webhookId)).toBe('processed');
    }
    const trips = (roundTrips - startTrips) / OPERATIONS;
    await orm.close();
    const perOperation = ((await commits()) - before - 1) / OPERATIONS;
    console.log(`per operation: ${trips} round trips, ${perOperation} commits`);
    // Accept 2, record the 202 1, take the webhook in 1, process it 1 read + 2: 7 round trips;
    // a commit for each of the four steps and for the autocommit read.
    expect(trips).toBeLessThanOrEqual(7);
    expect(perOperation).toBeLessThanOrEqual(5);
  });
});

import { randomBytes } from 'node:crypto';
import { submitBatch } from '@ctp/core/batches';
import { createPanCipher } from '@ctp/core/cards';
import { processWebhook, recordAccepted, recordWebhook, requestOperation } from '@ctp/core/operations';
import { createOrm, sqlPool } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from './fixtures.ts';

/**
 * What one operation costs the database, counted, not timed: round trips (statements handed to
 * a connection in the same tick travel together, pipelined, so they count once) and commits
 * (transactions ended on the connections, read-only autocommit statements included). The steps are
 * the ones every operation takes: accept the request, record the SaaS's 202, take the webhook
 * in, process it (resolve the trace). The relay's claim and mark are per batch, not counted here.
 */

let db: TestDatabase;
const T = 'ENBDTABBY';
const OPERATIONS = 20;
/** One chunk of the batch intake (`batches/store.ts`). */
const CHUNK_ITEMS = 1_000;

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

/**
 * Transactions the pool's connections end: every `ReadyForQuery` that reports the connection idle
 * (`I`) closes one, an autocommit statement's or an explicit `commit`'s (or a rollback's: none in
 * this run). Counted on the connections themselves, so nothing else in the database (autovacuum,
 * the statistics' flush delay) blurs it.
 */
function countTransactions(pool: pg.Pool): () => number {
  let ended = 0;
  const seen = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (seen.has(client)) return;
    seen.add(client);
    (client as unknown as { connection: NodeJS.EventEmitter }).connection.on(
      'readyForQuery',
      (message: { status: string }) => {
        if (message.status === 'I') ended += 1;
      },
    );
  });
  return () => ended;
}

describe('the cost of one operation', () => {
  it('round trips and commits per operation, from request to resolved trace', async () => {
    for (let i = 0; i < OPERATIONS; i++) await seedEntity(db.orm, T, `rt-${i}`, [`rt-${i}-k`]);
    const orm = await createOrm({ databaseUrl: db.databaseUrl });
    const transactions = countTransactions(await sqlPool(orm));
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
    const perOperation = transactions() / OPERATIONS;
    await orm.close();
    console.log(`per operation: ${trips} round trips, ${perOperation} commits`);
    // Accept 2, record the 202 1, take the webhook in 1, process it 1 read + 2: 7 round trips;
    // a commit for each of the four steps and for the autocommit read, and the relay's wake-up
    // behind each of the three commits that wrote outbox rows (request, webhook, resolve): a
    // NOTIFY in a transaction of its own, pipelined behind the commit (no round trip, no WAL
    // flush; `WAKE_RELAY`).
    expect(trips).toBeLessThanOrEqual(7);
    expect(perOperation).toBeLessThanOrEqual(8);
  });
});

describe('the cost of a batch chunk', () => {
  it("round trips and commits of the api's intake of 1,000 items carrying new records", async () => {
    const orm = await createOrm({ databaseUrl: db.databaseUrl });
    const transactions = countTransactions(await sqlPool(orm));
    const cipher = createPanCipher({ current: randomBytes(32).toString('base64') });
    const customer = (entityId: string) => ({
      firstName: 'Aisha',
      lastName: 'Khan',
      email: `${entityId}@example.com`,
      phone: { countryCode: '971', number: '501234567' },
      address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
      locale: 'en_AE',
      countryCode: 'AE',
    });
    async function* items() {
      for (let i = 0; i < CHUNK_ITEMS; i++)
        yield {
          value: {
            entityId: `bc-${i}`,
            kitNo: `bc-${i}-k`,
            customer: customer(`bc-${i}`),
            card: {
              pan: '4111111111111111',
              expiry: { month: '12', year: '2030' },
              nameOnCard: 'AISHA KHAN',
            },
          },
        };
    }
    const startTrips = roundTrips;
    const { batch } = await submitBatch(orm.em, cipher, { tenant: T, items: items() });
    const trips = roundTrips - startTrips;
    const commits = transactions();
    await orm.close();
    console.log(`intake of ${CHUNK_ITEMS} items: ${trips} round trips, ${commits} commits`);
    expect(batch.counts).toMatchObject({ total: CHUNK_ITEMS, pending: CHUNK_ITEMS });
    // Independent of the number of items in the chunk: the settings (1); the batch's transaction:
    // begin, its row, the items' existence check, the items, the request hash, commit (6); the
    // records' transaction: begin, read what is stored, insert the customers, insert the cards,
    // commit (5); the answer: the batch, its counts, its failures by reason (3). Commits: the
    // settings read, the two transactions, the answer's three reads. Through putEntity/putKit, one
    // transaction a record, this chunk took 11,010 round trips and 2,005 commits.
    expect(trips).toBeLessThanOrEqual(15);
    expect(commits).toBeLessThanOrEqual(6);
  });
});

import { CtpOperation, CtpOutbox, CtpWebhookInbox } from '@ctp/core/entities';
import { processWebhook, receiveWebhook, recordAccepted } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuedRegistration } from './fixtures.ts';

/**
 * A trace's outcome arriving by webhook is applied in the transaction that takes the delivery in,
 * when the trace is stored; otherwise the delivery waits in the inbox for the webhook job.
 */

let db: TestDatabase;
const T = 'ENBDRECV';

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const completed = (traceId: string, entityId: string) => ({
  type: 'request.completed' as const,
  tenant: T,
  data: {
    requestTraceId: traceId,
    event: 'CTP_REGISTER_ENTITY_AND_KIT' as const,
    status: 'SUCCESS' as const,
    externalConsumerId: entityId,
    externalInstrumentId: `${entityId}-k`,
    updatedAt: new Date().toISOString(),
    clickToPayCustomerId: `c-${entityId}`,
    clickToPayPaymentInstrumentId: `p-${entityId}`,
  },
});

async function jobsFor(webhookId: string): Promise<number> {
  return db.orm.em.fork().count(CtpOutbox, { kind: 'job', dedupeKey: { $like: `%${webhookId}%` } });
}

describe('receiving a webhook', () => {
  it('applies the outcome of a stored trace at once: inbox row processed, notification written, no job', async () => {
    const id = await queuedRegistration(db.orm, T, 'r-1');
    await recordAccepted(db.orm.em, { operationId: id, requestTraceId: 't-r-1', firstPollAfterMs: 60_000 });
    expect(await receiveWebhook(db.orm.em, { webhookId: 'w-r-1', body: completed('t-r-1', 'r-1') })).toBe(
      'resolved',
    );
    const em = db.orm.em.fork();
    expect(await em.findOneOrFail(CtpOperation, { id })).toMatchObject({ status: 'SUCCESS' });
    expect((await em.findOneOrFail(CtpWebhookInbox, { webhookId: 'w-r-1' })).processedAt).toBeInstanceOf(
      Date,
    );
    expect(await em.count(CtpOutbox, { operationId: id, kind: 'notification' })).toBe(1);
    expect(await jobsFor('w-r-1')).toBe(0);

    // A redelivery, and the same outcome under another delivery id: nothing more.
    expect(await receiveWebhook(db.orm.em, { webhookId: 'w-r-1', body: completed('t-r-1', 'r-1') })).toBe(
      'duplicate',
    );
    expect(await receiveWebhook(db.orm.em, { webhookId: 'w-r-1b', body: completed('t-r-1', 'r-1') })).toBe(
      'resolved',
    );
    expect(await db.orm.em.fork().count(CtpOutbox, { operationId: id, kind: 'notification' })).toBe(1);
  });

  it('records a webhook that beat the 202 for the job, which resolves it once the trace is stored', async () => {
    const id = await queuedRegistration(db.orm, T, 'r-2');
    expect(await receiveWebhook(db.orm.em, { webhookId: 'w-r-2', body: completed('t-r-2', 'r-2') })).toBe(
      'recorded',
    );
    expect(await jobsFor('w-r-2')).toBe(1);
    await recordAccepted(db.orm.em, { operationId: id, requestTraceId: 't-r-2', firstPollAfterMs: 60_000 });
    expect(await processWebhook(db.orm.em, 'w-r-2')).toBe('processed');
    expect(await db.orm.em.fork().findOneOrFail(CtpOperation, { id })).toMatchObject({ status: 'SUCCESS' });
  });

  it('concurrent deliveries of one outcome resolve it once', async () => {
    const id = await queuedRegistration(db.orm, T, 'r-3');
    await recordAccepted(db.orm.em, { operationId: id, requestTraceId: 't-r-3', firstPollAfterMs: 60_000 });
    const receipts = await Promise.all(
      ['a', 'a', 'b', 'c'].map((suffix) =>
        receiveWebhook(db.orm.em.fork(), { webhookId: `w-r-3${suffix}`, body: completed('t-r-3', 'r-3') }),
      ),
    );
    expect(receipts.filter((r) => r === 'duplicate')).toHaveLength(1);
    expect(await db.orm.em.fork().count(CtpOutbox, { operationId: id, kind: 'notification' })).toBe(1);
  });
});

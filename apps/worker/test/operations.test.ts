import { CtpCustomer, CtpOperation, CtpOutbox, CtpPayment, CtpRequestIdTracking } from '@ctp/core/entities';
import { DomainError } from '@ctp/core/errors';
import { recordAccepted, requestOperation, resolveTraceOutcome } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from './fixtures.ts';

let db: TestDatabase;
const T = 'ENBDTABBY';

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

async function statuses(entityId: string) {
  const em = db.orm.em.fork();
  const customer = await em.findOne(CtpCustomer, { tenant: T, entityId });
  const payments = await em.find(
    CtpPayment,
    { tenant: T, ctpCustomer: customer ?? { pkey: '0' } },
    { populate: ['kit'] },
  );
  return {
    entity: customer?.ctpEntityStatus ?? 'UNREGISTERED',
    customerId: customer?.clickToPayCustomerId ?? null,
    kits: Object.fromEntries(payments.map((p) => [p.kit.getEntity().kitNo, p.ctpKitStatus])),
  };
}

async function domainError(work: Promise<unknown>): Promise<DomainError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('requesting an operation', () => {
  it('records statuses, operation and submit job in one step, and replays an Idempotency-Key', async () => {
    await seedEntity(db.orm, T, 'e-req', ['k-req-1', 'k-req-2']);
    const request = {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'e-req',
      kitNo: 'k-req-1',
      idempotencyKey: 'idem-1',
    } as const;
    const first = await requestOperation(db.orm.em, request);
    expect(first.replayed).toBe(false);
    expect(first.operation.status).toBe('QUEUED');
    expect(await statuses('e-req')).toMatchObject({
      entity: 'REGISTRATION_IN_PROGRESS',
      kits: { 'k-req-1': 'REGISTRATION_IN_PROGRESS' },
    });
    const outbox = await db.orm.em.fork().find(CtpOutbox, { operationId: first.operation.id });
    expect(outbox.map((row) => row.topic)).toEqual(['job.submit']);

    const again = await requestOperation(db.orm.em, request);
    expect(again).toMatchObject({ replayed: true, operation: { id: first.operation.id } });
    expect((await domainError(requestOperation(db.orm.em, { ...request, kitNo: 'k-req-2' }))).code).toBe(
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(
      (await domainError(requestOperation(db.orm.em, { ...request, idempotencyKey: 'idem-2' }))).code,
    ).toBe('OPERATION_IN_PROGRESS');
  });

  it('lets exactly one of many concurrent requests on an entity in', async () => {
    await seedEntity(db.orm, T, 'e-race', ['k-race']);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        requestOperation(db.orm.em, {
          tenant: T,
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId: 'e-race',
          kitNo: 'k-race',
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'OPERATION_IN_PROGRESS' });
    expect(await db.orm.em.fork().count(CtpOperation, { entityId: 'e-race' })).toBe(1);
  });

  it('refuses what the lifecycle forbids with INVALID_STATE and the current statuses, and unknown records with NOT_FOUND', async () => {
    await seedEntity(db.orm, T, 'e-bad', ['k-bad']);
    for (const event of [
      'CTP_ADD_KIT',
      'CTP_REMOVE_ENTITY',
      'CTP_REMOVE_KIT',
      'CTP_UPDATE_ENTITY',
      'CTP_UPDATE_KIT',
    ] as const) {
      const error = await domainError(
        requestOperation(db.orm.em, { tenant: T, event, entityId: 'e-bad', kitNo: 'k-bad' }),
      );
      expect(error.code).toBe('INVALID_STATE');
      expect(error.details).toMatchObject({ ctpEntityStatus: 'UNREGISTERED' });
    }
    expect(
      (
        await domainError(
          requestOperation(db.orm.em, { tenant: T, event: 'CTP_REMOVE_ENTITY', entityId: 'nobody' }),
        )
      ).code,
    ).toBe('NOT_FOUND');
    const foreign = requestOperation(db.orm.em, {
      tenant: 'DEMOBANK',
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'e-bad',
      kitNo: 'k-bad',
    });
    expect((await domainError(foreign)).code).toBe('NOT_FOUND');
    const otherKit = requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'e-bad',
      kitNo: 'k-req-1',
    });
    expect((await domainError(otherKit)).code).toBe('NOT_FOUND');
    expect(await db.orm.em.fork().count(CtpOperation, { entityId: 'e-bad' })).toBe(0);
  });
});

describe('resolving a trace', () => {
  async function accepted(entityId: string, kitNo: string, traceId: string) {
    await seedEntity(db.orm, T, entityId, [kitNo]);
    const { operation } = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId,
      kitNo,
    });
    await recordAccepted(db.orm.em, {
      operationId: operation.id,
      requestTraceId: traceId,
      firstPollAfterMs: 0,
    });
    return operation.id;
  }

  it('SUCCESS stores the network ids and statuses once; the second arrival changes nothing', async () => {
    const operationId = await accepted('e-ok', 'k-ok', 'trace-ok');
    const outcome = {
      requestTraceId: 'trace-ok',
      status: 'SUCCESS',
      clickToPayCustomerId: 'c-1',
      clickToPayPaymentInstrumentId: 'p-1',
    } as const;
    expect(await resolveTraceOutcome(db.orm.em, T, outcome)).toBe('resolved');
    expect(await resolveTraceOutcome(db.orm.em, T, { requestTraceId: 'trace-ok', status: 'FAILED' })).toBe(
      'already-terminal',
    );
    expect(await statuses('e-ok')).toEqual({
      entity: 'ACTIVE',
      customerId: 'c-1',
      kits: { 'k-ok': 'ACTIVE' },
    });
    const em = db.orm.em.fork();
    expect(await em.findOne(CtpOperation, { id: operationId })).toMatchObject({
      status: 'SUCCESS',
      requestTraceId: 'trace-ok',
    });
    expect(await em.findOne(CtpRequestIdTracking, { requestTraceId: 'trace-ok' })).toMatchObject({
      statusCtp: 'SUCCESS',
    });
    const notes = await em.find(CtpOutbox, { operationId, kind: 'notification' });
    expect(notes).toHaveLength(1);
    expect(JSON.parse(String(notes[0]?.payload.payload))).toMatchObject({
      serverNotifyData: {
        requestStatus: 'SUCCESS',
        ctpEntityStatus: 'ACTIVE',
        ctpKitStatus: 'ACTIVE',
        ctpEntityId: 'c-1',
        ctpKitId: 'p-1',
      },
    });
  });

  it('FAILED reverts to the statuses before and says why; concurrent arrivals resolve once', async () => {
    const operationId = await accepted('e-ko', 'k-ko', 'trace-ko');
    const failed = {
      requestTraceId: 'trace-ko',
      status: 'FAILED',
      error: { code: 'REQUEST_REJECTED', message: 'Request Rejected', details: 'issuer said no' },
    } as const;
    const results = await Promise.all([1, 2, 3, 4].map(() => resolveTraceOutcome(db.orm.em, T, failed)));
    expect(results.filter((r) => r === 'resolved')).toHaveLength(1);
    expect(await statuses('e-ko')).toMatchObject({
      entity: 'UNREGISTERED',
      kits: { 'k-ko': 'UNREGISTERED' },
    });
    const em = db.orm.em.fork();
    expect(await em.findOne(CtpOperation, { id: operationId })).toMatchObject({
      status: 'FAILED',
      errorCode: 'REQUEST_REJECTED',
    });
    const notes = await em.find(CtpOutbox, { operationId, kind: 'notification' });
    expect(notes).toHaveLength(1);
    expect(JSON.parse(String(notes[0]?.payload.payload))).toMatchObject({
      serverNotifyData: {
        requestStatus: 'FAILED',
        message: 'CTP FAILURE: Request Rejected',
        errorDetails: 'issuer said no',
      },
    });
  });
});

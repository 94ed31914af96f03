import { findPans } from '@ctp/core/cards';
import { queryBound } from '@ctp/core/operations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// Conformance of the M2P-compatible API against the real api, worker and SaaS simulator over
// HTTP: M2P's documented sample bodies (its API library), its envelope, its validation rules one
// case each, the status flow of each mutation, and fetchRequestStatus applying an outcome whose
// webhook was dropped (or is late) exactly once.

const BASE = '/Yappay/click-to-pay/v1';
const HEADERS = { TENANT };

// M2P's samples: registerEntityAndKit, addKit, removeKit, removeEntity, fetchEntityDetails.
const REGISTER_SAMPLE = {
  entityId: '70752df2-8d98-4a0b-9a43-ed1e8f39d649',
  kitNo: '100000011561',
  consent: { version: '1.0', presenter: 'ENDTABBY', timeOfConsent: '2026-07-19T10:23:39.930Z' },
};
const ADD_KIT_SAMPLE = { entityId: 'f25a9f38-682b-4094-b6e4-9671d500c49b', kitNo: '12346535' };
const REMOVE_KIT_SAMPLE = { entityId: '918c3ed3-5cb0-4c2e-a80d-b70e1594de4b', kitNo: '1234655' };
const DETAILS_SAMPLE = { entityId: '918c3ed3-5cb0-4c2e-a80d-b70e1594de4b' };

interface Exception {
  detailMessage: string;
  shortMessage: string;
  errorCode: string;
  languageCode: string;
}

const m2p = (p: Pipeline, name: string, body: unknown, headers: Record<string, string> = HEADERS) =>
  p.call('POST', `${BASE}/${name}`, body, headers);

function resultOf(answer: Answer): Record<string, unknown> {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(Object.keys(answer.body).sort()).toEqual(['exception', 'pagination', 'result']);
  expect(answer.body.exception).toBeNull();
  expect(answer.body.pagination).toBeNull();
  return answer.body.result as Record<string, unknown>;
}

function exceptionOf(answer: Answer, status: number): Exception {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.result).toBeNull();
  expect(answer.body.pagination).toBeNull();
  const exception = answer.body.exception as Exception;
  expect(exception.languageCode).toBe('en');
  return exception;
}

/** A mutation through the M2P API: answered once the SaaS accepted it, so the trace id is real. */
async function mutate(p: Pipeline, name: string, body: unknown, event: string) {
  const result = resultOf(await m2p(p, name, body));
  expect(result).toMatchObject({ tenant: TENANT, entityId: (body as { entityId: string }).entityId, event });
  expect(typeof result.requestTraceId).toBe('string');
  return { requestTraceId: String(result.requestTraceId), operationId: String(result.operationId) };
}

/** fetchRequestStatus until the trace is finished (each call asks the SaaS up to 4 times). */
async function finished(p: Pipeline, requestTraceId: string) {
  for (let call = 0; call < 10; call++) {
    const result = resultOf(await m2p(p, 'fetchRequestStatus', { requestTraceId }));
    if (result.status !== 'IN_PROGRESS') return result;
  }
  throw new Error(`trace ${requestTraceId} still IN_PROGRESS`);
}

async function ctp(p: Pipeline, entityId: string) {
  return (await p.call('GET', `/v1/ctp/entities/${entityId}`)).body as {
    ctpEntityStatus: string;
    kits: { kitNo: string; ctpKitStatus: string; clickToPayPaymentInstrumentId: string | null }[];
  };
}

const kitStatus = async (p: Pipeline, entityId: string, kitNo: string) =>
  (await ctp(p, entityId)).kits.find((k) => k.kitNo === kitNo)?.ctpKitStatus;

async function until(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('M2P-compatible API: the status flow with M2P sample bodies', () => {
  let p: Pipeline;
  beforeAll(async () => {
    // The network takes 5 s per request, so each mutation is seen in progress first (the GET right
    // after the answer has that long: CI's loaded 2-core machine has stalled for over a second).
    p = await startPipeline({ simulator: { completionDelayMs: 5_000 } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('registerEntityAndKit → SUCCESS, fetchRequestStatus in M2P shape, consent stored', async () => {
    const { entityId, kitNo } = REGISTER_SAMPLE;
    await p.customer(entityId, [kitNo]);
    const { requestTraceId, operationId } = await mutate(
      p,
      'registerEntityAndKit',
      REGISTER_SAMPLE,
      'CTP_REGISTER_ENTITY_AND_KIT',
    );
    expect((await ctp(p, entityId)).ctpEntityStatus).toBe('REGISTRATION_IN_PROGRESS');
    const status = await finished(p, requestTraceId);
    expect(Object.keys(status).sort()).toEqual(
      [
        'clickToPayCustomerId',
        'clickToPayPaymentInstrumentId',
        'entityId',
        'errorDetails',
        'event',
        'requestTraceId',
        'status',
        'tenant',
      ].sort(),
    );
    const ours = await ctp(p, entityId);
    expect(status).toEqual({
      status: 'SUCCESS',
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      tenant: TENANT,
      entityId,
      errorDetails: null,
      clickToPayCustomerId: expect.any(String),
      clickToPayPaymentInstrumentId: ours.kits[0]?.clickToPayPaymentInstrumentId,
      requestTraceId,
    });
    expect(ours).toMatchObject({ ctpEntityStatus: 'ACTIVE', kits: [{ kitNo, ctpKitStatus: 'ACTIVE' }] });
    await p.notification(operationId);
    const consent = (await p.call('GET', `/v1/entities/${entityId}`)).body.consent;
    expect(consent).toEqual({ accepted: true, version: '1.0', acceptedAt: '2026-07-19T10:23:39.930Z' });

    const again = exceptionOf(await m2p(p, 'registerEntityAndKit', REGISTER_SAMPLE), 409);
    expect(again.errorCode).toBe('CTP_ALREADY_REGISTERED');
  });

  it('addKit, fetchEntityDetails (masked cardNo), removeKit, removeEntity (REMOVAL_IN_PROGRESS at once, then REMOVED)', async () => {
    const { entityId, kitNo } = ADD_KIT_SAMPLE;
    await p.customer(entityId, ['first-kit', kitNo]);
    await finished(
      p,
      (
        await mutate(
          p,
          'registerEntityAndKit',
          { entityId, kitNo: 'first-kit' },
          'CTP_REGISTER_ENTITY_AND_KIT',
        )
      ).requestTraceId,
    );
    const added = await mutate(p, 'addKit', ADD_KIT_SAMPLE, 'CTP_ADD_KIT');
    expect(await kitStatus(p, entityId, kitNo)).toBe('REGISTRATION_IN_PROGRESS');
    expect(await finished(p, added.requestTraceId)).toMatchObject({
      status: 'SUCCESS',
      event: 'CTP_ADD_KIT',
    });
    expect(await kitStatus(p, entityId, kitNo)).toBe('ACTIVE');

    const answer = await m2p(p, 'fetchEntityDetails', { entityId });
    expect(findPans(JSON.stringify(answer.body))).toEqual([]);
    const details = resultOf(answer) as {
      customerInfo: Record<string, unknown>;
      paymentInstrumentInfo: Record<string, unknown>[];
    };
    expect(details).toMatchObject({ entityId, tenant: TENANT });
    expect(details.customerInfo).toMatchObject({
      emails: [`${entityId}@example.com`],
      mobileNumber: '971501234567',
      firstName: 'Aisha',
      lastName: 'Khan',
      locale: 'en_AE',
      ctpStatus: 'ACTIVE',
      ctpExternalConsumerId: expect.any(String),
    });
    const cards = [...details.paymentInstrumentInfo].sort((a, b) =>
      String(a.kitNo).localeCompare(String(b.kitNo)),
    );
    expect(cards).toEqual([
      expect.objectContaining({
        kitNo,
        cardNo: '401288******1881',
        nameOnCard: 'AISHA KHAN',
        expirationDate: '2030-12',
        ctpStatus: 'ACTIVE',
        addressInfo: expect.objectContaining({ addressLine1: '1 Marina Walk', city: 'Dubai', country: 'AE' }),
      }),
      expect.objectContaining({ kitNo: 'first-kit', cardNo: '411111******1111', ctpStatus: 'ACTIVE' }),
    ]);

    const removedKit = await mutate(p, 'removeKit', { entityId, kitNo }, 'CTP_REMOVE_KIT');
    expect(await finished(p, removedKit.requestTraceId)).toMatchObject({ status: 'SUCCESS' });
    // The customer stays on CTP with its other card.
    expect(await ctp(p, entityId)).toMatchObject({
      ctpEntityStatus: 'ACTIVE',
      kits: expect.arrayContaining([
        expect.objectContaining({ kitNo, ctpKitStatus: 'REMOVED' }),
        expect.objectContaining({ kitNo: 'first-kit', ctpKitStatus: 'ACTIVE' }),
      ]),
    });

    const removed = await mutate(p, 'removeEntity', { entityId }, 'CTP_REMOVE_ENTITY');
    expect(await ctp(p, entityId)).toMatchObject({
      ctpEntityStatus: 'REMOVAL_IN_PROGRESS',
      kits: expect.arrayContaining([
        expect.objectContaining({ kitNo: 'first-kit', ctpKitStatus: 'REMOVAL_IN_PROGRESS' }),
      ]),
    });
    expect(await finished(p, removed.requestTraceId)).toMatchObject({ status: 'SUCCESS' });
    expect(await ctp(p, entityId)).toMatchObject({
      ctpEntityStatus: 'REMOVED',
      kits: expect.arrayContaining([
        expect.objectContaining({ kitNo: 'first-kit', ctpKitStatus: 'REMOVED' }),
      ]),
    });
    // Removed is not registered: M2P's Y109.
    expect(exceptionOf(await m2p(p, 'removeEntity', { entityId }), 409).errorCode).toBe('Y109');
  });

  it('addKit validations in M2P order, one rule each', async () => {
    const entityId = 'rules-add';
    await p.customer(entityId, ['k1', 'k2']);
    await p.customer('rules-other', ['k-other']);
    // 1. the customer must be on CTP
    const notOnCtp = exceptionOf(await m2p(p, 'addKit', { entityId, kitNo: 'k2' }), 409);
    expect(notOnCtp).toMatchObject({ errorCode: 'Y109', detailMessage: 'Not a registered Customer' });
    await finished(
      p,
      (await mutate(p, 'registerEntityAndKit', { entityId, kitNo: 'k1' }, 'CTP_REGISTER_ENTITY_AND_KIT'))
        .requestTraceId,
    );
    // 2. the customer must be ACTIVE (the network disabled it; its webhook told us)
    p.sim.simulator.setConsumerStatus(TENANT, entityId, 'DISABLED');
    await until(async () => (await ctp(p, entityId)).ctpEntityStatus === 'DISABLED');
    expect(exceptionOf(await m2p(p, 'addKit', { entityId, kitNo: 'k2' }), 409).errorCode).toBe(
      'CTP_ENTITY_NOT_ACTIVE',
    );
    p.sim.simulator.setConsumerStatus(TENANT, entityId, 'ACTIVE');
    await until(async () => (await ctp(p, entityId)).ctpEntityStatus === 'ACTIVE');
    // 3. the kit must be the entity's
    expect(exceptionOf(await m2p(p, 'addKit', { entityId, kitNo: 'k-other' }), 404).errorCode).toBe(
      'CTP_KIT_NOT_FOUND',
    );
    // 4. the kit must not be enrolled already
    expect(exceptionOf(await m2p(p, 'addKit', { entityId, kitNo: 'k1' }), 409).errorCode).toBe(
      'CTP_KIT_ALREADY_ENROLLED',
    );
  });

  it('removeKit and removeEntity validations, one rule each', async () => {
    await p.customer('rules-remove', ['r1', 'r2']);
    await p.customer('rules-unregistered', ['u1']);
    await finished(
      p,
      (
        await mutate(
          p,
          'registerEntityAndKit',
          { entityId: 'rules-remove', kitNo: 'r1' },
          'CTP_REGISTER_ENTITY_AND_KIT',
        )
      ).requestTraceId,
    );
    // removeKit 1: the customer must be on CTP; 2: the kit must be ACTIVE
    expect(
      exceptionOf(await m2p(p, 'removeKit', { entityId: 'rules-unregistered', kitNo: 'u1' }), 409).errorCode,
    ).toBe('Y109');
    expect(
      exceptionOf(await m2p(p, 'removeKit', { entityId: 'rules-remove', kitNo: 'r2' }), 409).errorCode,
    ).toBe('CTP_KIT_NOT_ACTIVE');
    // removeEntity 1: the customer must be registered on CTP
    expect(exceptionOf(await m2p(p, 'removeEntity', { entityId: 'rules-unregistered' }), 409).errorCode).toBe(
      'Y109',
    );
    // The bodies must name what they act on.
    expect(exceptionOf(await m2p(p, 'removeKit', { entityId: 'rules-remove' }), 400).detailMessage).toBe(
      'kitNo is required',
    );
    expect(exceptionOf(await m2p(p, 'removeEntity', {}), 400).detailMessage).toBe('entityId is required');
    expect(exceptionOf(await m2p(p, 'fetchRequestStatus', {}), 400).detailMessage).toBe(
      'requestTraceId is required',
    );
    // fetchEntityDetails (M2P's sample body): an entity the network does not hold is not registered.
    await p.customer(DETAILS_SAMPLE.entityId, [REMOVE_KIT_SAMPLE.kitNo]);
    expect(exceptionOf(await m2p(p, 'fetchEntityDetails', DETAILS_SAMPLE), 404).errorCode).toBe('Y109');
    // removeKit with M2P's sample body once the card is on CTP.
    await finished(
      p,
      (await mutate(p, 'registerEntityAndKit', REMOVE_KIT_SAMPLE, 'CTP_REGISTER_ENTITY_AND_KIT'))
        .requestTraceId,
    );
    const removed = await mutate(p, 'removeKit', REMOVE_KIT_SAMPLE, 'CTP_REMOVE_KIT');
    expect(await finished(p, removed.requestTraceId)).toMatchObject({ status: 'SUCCESS' });
  });
});

describe('M2P-compatible API: outcomes whose webhook was dropped or is late', () => {
  let p: Pipeline;
  beforeAll(async () => {
    // The poller waits far past the test: only fetchRequestStatus (or a webhook) can resolve.
    p = await startPipeline({ env: { TRACE_FIRST_POLL_MS: '600000' } });
  });
  afterAll(async () => {
    await p?.close();
  });

  const notificationsOf = async (notificationId: string) =>
    (await p.notifications()).filter((n) => n.notificationId === notificationId);

  it('fetchRequestStatus applies an outcome whose webhook was dropped, once', async () => {
    p.sim.simulator.setFaults({ webhookDropRate: 1, webhookDelayMs: { min: 0, max: 0 } });
    await p.customer('dropped', ['d1']);
    const { requestTraceId, operationId } = await mutate(
      p,
      'registerEntityAndKit',
      { entityId: 'dropped', kitNo: 'd1' },
      'CTP_REGISTER_ENTITY_AND_KIT',
    );
    await p.sim.simulator.idle();
    expect(p.sim.simulator.state().counters.webhooks.dropped).toBeGreaterThan(0);
    // The network finished; we have not heard.
    expect((await p.call('GET', `/v1/ctp/traces/${requestTraceId}`)).body.statusCtp).toBe('IN_PROGRESS');

    expect(await finished(p, requestTraceId)).toMatchObject({ status: 'SUCCESS' });
    expect(await ctp(p, 'dropped')).toMatchObject({
      ctpEntityStatus: 'ACTIVE',
      kits: [{ kitNo: 'd1', ctpKitStatus: 'ACTIVE' }],
    });
    await p.notification(operationId);
    // Asked again: the answer is the applied one; nothing is applied or announced twice.
    expect(await finished(p, requestTraceId)).toMatchObject({ status: 'SUCCESS' });
    expect(await notificationsOf(operationId)).toHaveLength(1);
  });

  it('fetchRequestStatus and a late webhook: the outcome is applied and announced once', async () => {
    p.sim.simulator.setFaults({ webhookDropRate: 0, webhookDelayMs: { min: 1_500, max: 1_500 } });
    await p.customer('late', ['l1']);
    const { requestTraceId, operationId } = await mutate(
      p,
      'registerEntityAndKit',
      { entityId: 'late', kitNo: 'l1' },
      'CTP_REGISTER_ENTITY_AND_KIT',
    );
    expect(await finished(p, requestTraceId)).toMatchObject({ status: 'SUCCESS' });
    const succeeded = p.sim.simulator.state().counters.webhooks.succeeded;
    await p.sim.simulator.idle(10_000);
    expect(p.sim.simulator.state().counters.webhooks.succeeded).toBeGreaterThan(succeeded);
    // The late webhook was taken and processed as a no-op.
    await until(async () => {
      const rows = await p.db.orm.em
        .fork()
        .execute<{ pending: string }[]>(
          'select count(*) as pending from ctp_webhook_inbox where processed_at is null and parked_at is null',
        );
      return Number(rows[0]?.pending) === 0;
    });
    expect(await notificationsOf(operationId)).toHaveLength(1);
    const history = await p.db.orm.em
      .fork()
      .execute<{ n: string }[]>(
        `select count(*) as n from ctp_status_history where record = 'trace' and to_status in ('SUCCESS', 'FAILED') and request_trace_id = ?`,
        [requestTraceId],
      );
    expect(Number(history[0]?.n)).toBe(1);
  });

  it('fetchEntityDetails repairs, as a reconciliation, a status the network changed and whose webhook was dropped', async () => {
    p.sim.simulator.setFaults({ webhookDropRate: 0, webhookDelayMs: { min: 0, max: 0 } });
    await p.customer('drift', ['c1']);
    const registered = await mutate(
      p,
      'registerEntityAndKit',
      { entityId: 'drift', kitNo: 'c1' },
      'CTP_REGISTER_ENTITY_AND_KIT',
    );
    await finished(p, registered.requestTraceId);
    await p.notification(registered.operationId);
    await p.sim.simulator.idle();
    p.sim.simulator.setFaults({ webhookDropRate: 1 });
    p.sim.simulator.setInstrumentStatus(TENANT, 'drift', 'c1', 'DISABLED');
    await p.sim.simulator.idle();
    expect(await kitStatus(p, 'drift', 'c1')).toBe('ACTIVE');
    const before = (await p.notifications()).length;

    const details = resultOf(await m2p(p, 'fetchEntityDetails', { entityId: 'drift' })) as {
      paymentInstrumentInfo: { kitNo: string; ctpStatus: string }[];
    };
    expect(details.paymentInstrumentInfo).toEqual([
      expect.objectContaining({ kitNo: 'c1', ctpStatus: 'DISABLED' }),
    ]);
    expect(await kitStatus(p, 'drift', 'c1')).toBe('DISABLED');
    const [changed] = (await p.waitForNotifications(before + 1)).slice(before);
    expect(changed?.payload).toMatchObject({
      transactionType: 'CTP_STATUS_CHANGED',
      serverNotifyData: { entityId: 'drift', kitNo: 'c1', ctpKitStatus: 'DISABLED', reason: 'RECONCILED' },
    });
    // The same path as a reconciliation: the history says why.
    const history = await queryBound<{ cause: string }>(
      p.db.orm.em.fork(),
      `select cause from ctp_status_history where tenant = ? and entity_id = ? and record = 'kit' and to_status = 'DISABLED'`,
      [TENANT, 'drift'],
    );
    expect(history).toEqual([{ cause: 'RECONCILED' }]);
    // In step again: nothing more to apply, nothing announced.
    resultOf(await m2p(p, 'fetchEntityDetails', { entityId: 'drift' }));
    expect((await p.notifications()).length).toBe(before + 1);
  });
});

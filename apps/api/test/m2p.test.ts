import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Answer,
  type CallOptions,
  DEMO,
  dumpRecords,
  ENBD,
  entityBody,
  kitBody,
  startTestApi,
  type TestApi,
  VISA,
} from './helpers.ts';

// The M2P-compatible API at the edge (no worker, a SaaS that is not there): M2P's envelope on
// every answer, its validation order one rule at a time, each refusal changing nothing, and the
// answer past M2P_ACCEPT_WAIT_MS. The whole flow against the worker and the simulator is
// tests/e2e/test/m2p.test.ts.

const BASE = '/Yappay/click-to-pay/v1';
// M2P's own sample body (API library, registerEntityAndKit).
const SAMPLE_ENTITY = '70752df2-8d98-4a0b-9a43-ed1e8f39d649';
const SAMPLE_KIT = '100000011561';
const SAMPLE_REGISTER = {
  entityId: SAMPLE_ENTITY,
  kitNo: SAMPLE_KIT,
  consent: { version: '1.0', presenter: 'ENDTABBY', timeOfConsent: '2026-07-19T10:23:39.930Z' },
};

let api: TestApi;

beforeAll(async () => {
  // No wait: nothing accepts the operation here (no worker), so the answer is the "not yet" one.
  api = await startTestApi({ m2pAcceptWaitMs: 0 });
  expect((await api.call('PUT', `/v1/entities/${SAMPLE_ENTITY}`, { json: entityBody() })).status).toBe(201);
  expect(
    (await api.call('PUT', `/v1/entities/${SAMPLE_ENTITY}/kits/${SAMPLE_KIT}`, { json: kitBody() })).status,
  ).toBe(201);
  await api.call('PUT', '/v1/entities/other', { json: entityBody() });
  await api.call('PUT', '/v1/entities/other/kits/kit-of-other', { json: kitBody() });
});

afterAll(async () => {
  expect(api.leakedPans()).toEqual([]);
  await api?.close();
});

const m2p = (name: string, body: unknown, options: Omit<CallOptions, 'json'> = {}) =>
  api.call('POST', `${BASE}/${name}`, { ...options, json: body });

interface Envelope {
  result: Record<string, unknown> | null;
  exception: { detailMessage: string; shortMessage: string; errorCode: string; languageCode: string } | null;
  pagination: null;
}

function exceptionOf(answer: Answer) {
  const body = answer.body as Envelope;
  expect(Object.keys(body).sort()).toEqual(['exception', 'pagination', 'result']);
  expect(body.result).toBeNull();
  expect(body.pagination).toBeNull();
  expect(body.exception?.languageCode).toBe('en');
  if (body.exception === null) throw new Error(`not an M2P error: ${answer.text}`);
  return body.exception;
}

describe('M2P-compatible API: authentication and the envelope', () => {
  it('answers 401 in the envelope without a key, 403 for a TENANT that is not the key tenant', async () => {
    const noKey = await m2p('registerEntityAndKit', SAMPLE_REGISTER, { as: null });
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get('www-authenticate')).toBe('Bearer');
    expect(exceptionOf(noKey).errorCode).toBe('CTP_UNAUTHORIZED');

    const before = await dumpRecords(api.db);
    const foreign = await m2p('registerEntityAndKit', SAMPLE_REGISTER, { headers: { TENANT: DEMO } });
    expect(foreign.status).toBe(403);
    expect(exceptionOf(foreign)).toMatchObject({ errorCode: 'CTP_FORBIDDEN' });
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it('answers an unknown M2P path and malformed JSON in the envelope', async () => {
    const unknown = await m2p('fetchEverything', {});
    expect(unknown.status).toBe(404);
    expect(exceptionOf(unknown).errorCode).toBe('CTP_NOT_FOUND');

    const malformed = await api.call('POST', `${BASE}/addKit`, {
      raw: '{"entityId":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(exceptionOf(malformed).errorCode).toBe('CTP_VALIDATION_FAILED');

    const notJson = await api.call('POST', `${BASE}/addKit`, {
      raw: 'entityId=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(415);
    expect(exceptionOf(notJson).errorCode).toBe('CTP_UNSUPPORTED_MEDIA_TYPE');

    const tooLarge = await m2p('addKit', { entityId: 'x'.repeat(70_000) });
    expect(tooLarge.status).toBe(413);
    expect(exceptionOf(tooLarge).errorCode).toBe('CTP_PAYLOAD_TOO_LARGE');
  });
});

describe('M2P-compatible API: registerEntityAndKit validations, in M2P order, one rule each', () => {
  const refused = async (body: unknown, status: number, errorCode: string, detail: RegExp | string) => {
    const before = await dumpRecords(api.db);
    const answer = await m2p('registerEntityAndKit', body, { headers: { TENANT: ENBD } });
    expect(answer.status, answer.text).toBe(status);
    const exception = exceptionOf(answer);
    expect(exception.errorCode).toBe(errorCode);
    if (typeof detail === 'string') expect(exception.detailMessage).toBe(detail);
    else expect(exception.detailMessage).toMatch(detail);
    expect(await dumpRecords(api.db)).toBe(before);
    return exception;
  };

  it('1. entityId must be present (reported before a missing kitNo)', async () => {
    await refused({ kitNo: SAMPLE_KIT }, 400, 'CTP_VALIDATION_FAILED', 'entityId is required');
    await refused({}, 400, 'CTP_VALIDATION_FAILED', 'entityId is required');
    await refused({ entityId: null, kitNo: SAMPLE_KIT }, 400, 'CTP_VALIDATION_FAILED', /^entityId /);
  });

  it('2. kitNo must be present', async () => {
    await refused({ entityId: SAMPLE_ENTITY }, 400, 'CTP_VALIDATION_FAILED', 'kitNo is required');
  });

  it('3. the entity must exist: Y109 "Not a registered Customer"', async () => {
    const exception = await refused(
      { ...SAMPLE_REGISTER, entityId: 'nobody' },
      404,
      'Y109',
      'Not a registered Customer',
    );
    expect(exception.shortMessage).toBe('Not a registered Customer');
  });

  it('4. the customer must be active (checked before the kit; the consent is not stored)', async () => {
    await api.call('PUT', '/v1/entities/closed-customer', { json: entityBody() });
    await api.call('PUT', '/v1/entities/closed-customer/kits/kit-of-closed', { json: kitBody() });
    const closed = await api.call('PUT', '/v1/entities/closed-customer/status', {
      json: { status: 'CLOSED' },
    });
    expect(closed.status).toBe(200);
    for (const kitNo of ['kit-of-closed', 'kit-of-other', 'no-such-kit']) {
      const exception = await refused(
        { ...SAMPLE_REGISTER, entityId: 'closed-customer', kitNo },
        409,
        'CTP_CUSTOMER_NOT_ACTIVE',
        /customer is CLOSED/,
      );
      expect(exception.shortMessage).toBe('Customer is not active');
    }
    expect((await api.call('GET', '/v1/entities/closed-customer')).body).toMatchObject({ consent: null });
  });

  it("5. the kit must be the entity's", async () => {
    await refused({ ...SAMPLE_REGISTER, kitNo: 'kit-of-other' }, 404, 'CTP_KIT_NOT_FOUND', /kit/);
    await refused({ ...SAMPLE_REGISTER, kitNo: 'no-such-kit' }, 404, 'CTP_KIT_NOT_FOUND', /kit/);
  });

  it('refuses client text the project never stores: a card number, a NUL, a lone surrogate, in any field', async () => {
    await refused({ ...SAMPLE_REGISTER, kitNo: VISA }, 400, 'CTP_VALIDATION_FAILED', /^kitNo /);
    const consent = SAMPLE_REGISTER.consent;
    for (const presenter of [`Bank ${VISA}`, 'Bank\u0000A', 'Bank \ud800']) {
      const exception = await refused(
        { ...SAMPLE_REGISTER, consent: { ...consent, presenter } },
        400,
        'CTP_VALIDATION_FAILED',
        /^consent\.presenter /,
      );
      expect(exception.detailMessage).not.toContain(VISA);
    }
    const trace = await m2p('fetchRequestStatus', { requestTraceId: `t-${VISA}` });
    expect(trace.status).toBe(400);
    expect(exceptionOf(trace).detailMessage).toMatch(/^requestTraceId must not contain a card number/);
  });
});

describe('M2P-compatible API: acceptance', () => {
  it('answers past M2P_ACCEPT_WAIT_MS with requestTraceId null and the operation id; the operation is durable; a retry with the same Idempotency-Key gets the same answer', async () => {
    const headers = { TENANT: ENBD, 'Idempotency-Key': 'm2p-register-1' };
    const first = await m2p('registerEntityAndKit', SAMPLE_REGISTER, { headers });
    expect(first.status, first.text).toBe(200);
    const body = first.body as Envelope;
    expect(body.exception).toBeNull();
    expect(body.pagination).toBeNull();
    expect(body.result).toMatchObject({
      tenant: ENBD,
      entityId: SAMPLE_ENTITY,
      requestTraceId: null,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
    });
    const operationId = String(body.result?.operationId);
    const operation = await api.call('GET', `/v1/ctp/operations/${operationId}`);
    expect(operation.body).toMatchObject({ status: 'QUEUED', kitNo: SAMPLE_KIT });
    // The consent M2P's body carries is the customer's now (it is what the SaaS request is built from).
    const entity = await api.call('GET', `/v1/entities/${SAMPLE_ENTITY}`);
    expect(entity.body).toMatchObject({
      ctpEntityStatus: 'REGISTRATION_IN_PROGRESS',
      consent: { accepted: true, version: '1.0', acceptedAt: '2026-07-19T10:23:39.930Z' },
    });

    const again = await m2p('registerEntityAndKit', SAMPLE_REGISTER, { headers });
    expect(again.status).toBe(200);
    expect((again.body as Envelope).result).toEqual(body.result);

    const other = await m2p('registerEntityAndKit', { ...SAMPLE_REGISTER, kitNo: 'x' }, { headers });
    expect(other.status).toBe(422);
    expect(exceptionOf(other).errorCode).toBe('CTP_IDEMPOTENCY_KEY_REUSED');

    const busy = await m2p('removeEntity', { entityId: SAMPLE_ENTITY });
    expect(busy.status).toBe(409);
    expect(exceptionOf(busy).errorCode).toBe('CTP_OPERATION_IN_PROGRESS');
  });

  it('fetchRequestStatus: an unknown trace is "Request Trace ID Not Found"', async () => {
    const answer = await m2p('fetchRequestStatus', {
      requestTraceId: '351562ba-83cf-11ee-b962-0242ac120002',
    });
    expect(answer.status).toBe(404);
    expect(exceptionOf(answer)).toMatchObject({
      detailMessage: 'Request Trace ID Not Found',
      shortMessage: 'Request Trace ID Not Found',
      errorCode: 'CTP_TRACE_NOT_FOUND',
    });
  });

  it("fetchEntityDetails: an unknown entity is Y109, another tenant's entity too", async () => {
    for (const [entityId, as] of [
      ['nobody', ENBD],
      [SAMPLE_ENTITY, DEMO],
    ] as const) {
      const answer = await m2p('fetchEntityDetails', { entityId }, { as });
      expect(answer.status).toBe(404);
      expect(exceptionOf(answer).errorCode).toBe('Y109');
    }
  });
});

describe('/openapi.json', () => {
  it('describes the M2P-compatible API under its own tag', async () => {
    const document = (await api.call('GET', '/openapi.json', { as: null })).body as {
      paths: Record<string, { post?: { tags?: string[] } }>;
    };
    const paths = Object.keys(document.paths).filter((path) => path.startsWith(BASE));
    expect(paths.sort()).toEqual(
      [
        'addKit',
        'fetchEntityDetails',
        'fetchRequestStatus',
        'registerEntityAndKit',
        'removeEntity',
        'removeKit',
      ].map((name) => `${BASE}/${name}`),
    );
    for (const path of paths) expect(document.paths[path]?.post?.tags).toEqual(['M2P-compatible API']);
  });
});

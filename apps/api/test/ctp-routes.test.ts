import { randomUUID } from 'node:crypto';
import { DEV_DEFAULTS } from '@ctp/core/config';
import { signWebhook } from '@ctp/core/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CallOptions,
  DEMO,
  dumpRecords,
  entityBody,
  errorOf,
  kitBody,
  startTestApi,
  type TestApi,
} from './helpers.ts';

// The CTP routes at the edge: every refusal is the right 4xx in the contract body and writes
// nothing; every transition the lifecycle forbids is a 409 with the current statuses.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  for (const id of ['ent-c', 'ent-busy', 'ent-other']) {
    await api.call('PUT', `/v1/entities/${id}`, { json: entityBody() });
    await api.call('PUT', `/v1/entities/${id}/kits/kit-${id}`, { json: kitBody() });
  }
  expect((await api.call('PUT', '/v1/entities/ent-other/kits/kit-x', { json: kitBody() })).status).toBe(201);
  await api.call('PUT', '/v1/entities/ent-d', { json: entityBody(), as: DEMO });
});

afterAll(async () => {
  await api?.close();
});

const REG = '/v1/ctp/entities/ent-c/registration';
const webhookBody = JSON.stringify({
  type: 'consumer.status_changed',
  tenant: 'ENBDTABBY',
  data: {
    externalConsumerId: 'ent-c',
    clickToPayCustomerId: 'c',
    status: 'DISABLED',
    occurredAt: '2026-11-23T10:00:05Z',
  },
});
const signed = (body: string, at = new Date()) => ({
  ...signWebhook(DEV_DEFAULTS.CTP_WEBHOOK_SECRET, `msg_${randomUUID()}`, body, at),
  'content-type': 'application/json',
});

const BAD: readonly [string, string, string, CallOptions, number, string][] = [
  [
    'malformed JSON',
    'POST',
    REG,
    { raw: '{"kitNo":', headers: { 'content-type': 'application/json' } },
    400,
    'VALIDATION_FAILED',
  ],
  ['wrong type', 'POST', REG, { json: { kitNo: 42 } }, 400, 'VALIDATION_FAILED'],
  ['missing field', 'POST', REG, { json: {} }, 400, 'VALIDATION_FAILED'],
  [
    'unknown field',
    'POST',
    REG,
    { json: { kitNo: 'kit-ent-c', pan: '4111111111111111' } },
    400,
    'VALIDATION_FAILED',
  ],
  ['array body', 'POST', REG, { json: ['kit-ent-c'] }, 400, 'VALIDATION_FAILED'],
  ['huge body', 'POST', REG, { json: { kitNo: 'x'.repeat(70 * 1024) } }, 413, 'PAYLOAD_TOO_LARGE'],
  [
    'wrong content type',
    'POST',
    REG,
    { raw: '{"kitNo":"kit-ent-c"}', headers: { 'content-type': 'text/plain' } },
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  ],
  [
    'bad path id',
    'POST',
    '/v1/ctp/entities/a%20b/registration',
    { json: { kitNo: 'kit-ent-c' } },
    400,
    'VALIDATION_FAILED',
  ],
  [
    'too long Idempotency-Key',
    'POST',
    REG,
    { json: { kitNo: 'kit-ent-c' }, headers: { 'idempotency-key': 'k'.repeat(256) } },
    400,
    'VALIDATION_FAILED',
  ],
  ['no API key', 'POST', REG, { json: { kitNo: 'kit-ent-c' }, as: null }, 401, 'UNAUTHORIZED'],
  [
    'foreign tenant header',
    'POST',
    REG,
    { json: { kitNo: 'kit-ent-c' }, headers: { 'x-tenant-id': DEMO } },
    403,
    'FORBIDDEN',
  ],
  [
    "another tenant's entity",
    'POST',
    '/v1/ctp/entities/ent-d/registration',
    { json: { kitNo: 'kit-x' } },
    404,
    'NOT_FOUND',
  ],
  ['unknown entity', 'DELETE', '/v1/ctp/entities/nobody', {}, 404, 'NOT_FOUND'],
  ['kit of another entity', 'POST', REG, { json: { kitNo: 'kit-x' } }, 404, 'NOT_FOUND'],
  ['unknown kit', 'DELETE', '/v1/ctp/entities/ent-c/kits/nokit', {}, 404, 'NOT_FOUND'],
  ['operation id not a uuid', 'GET', '/v1/ctp/operations/not-a-uuid', {}, 400, 'VALIDATION_FAILED'],
  ['unknown operation', 'GET', `/v1/ctp/operations/${randomUUID()}`, {}, 404, 'NOT_FOUND'],
  ['unknown trace', 'GET', '/v1/ctp/traces/nothing-here', {}, 404, 'NOT_FOUND'],
  ["another tenant's CTP view", 'GET', '/v1/ctp/entities/ent-d', {}, 404, 'NOT_FOUND'],
  [
    'webhook without signature',
    'POST',
    '/v1/ctp/webhooks/saas',
    { as: null, raw: webhookBody, headers: { 'content-type': 'application/json' } },
    401,
    'UNAUTHORIZED',
  ],
  [
    'webhook signed with another secret',
    'POST',
    '/v1/ctp/webhooks/saas',
    {
      as: null,
      raw: webhookBody,
      headers: {
        ...signWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, 'msg_x', webhookBody),
        'content-type': 'application/json',
      },
    },
    401,
    'UNAUTHORIZED',
  ],
  [
    'webhook with a tampered body',
    'POST',
    '/v1/ctp/webhooks/saas',
    { as: null, raw: webhookBody.replace('DISABLED', 'REMOVED'), headers: signed(webhookBody) },
    401,
    'UNAUTHORIZED',
  ],
  [
    'webhook replayed after 5 minutes',
    'POST',
    '/v1/ctp/webhooks/saas',
    { as: null, raw: webhookBody, headers: signed(webhookBody, new Date(Date.now() - 6 * 60_000)) },
    401,
    'UNAUTHORIZED',
  ],
  [
    'signed webhook that is not JSON',
    'POST',
    '/v1/ctp/webhooks/saas',
    { as: null, raw: 'not json', headers: signed('not json') },
    400,
    'VALIDATION_FAILED',
  ],
  [
    'signed webhook of an unknown type',
    'POST',
    '/v1/ctp/webhooks/saas',
    {
      as: null,
      raw: '{"type":"x","tenant":"T","data":{}}',
      headers: signed('{"type":"x","tenant":"T","data":{}}'),
    },
    400,
    'VALIDATION_FAILED',
  ],
];

describe('CTP routes refuse bad input', () => {
  it.each(BAD)('%s: %s %s', async (_name, method, path, options, status, code) => {
    const before = await dumpRecords(api.db);
    const answer = await api.call(method, path, options);
    expect(answer.status, answer.text).toBe(status);
    expect(errorOf(answer).code).toBe(code);
    expect(Object.keys(answer.body as object)).toEqual(['error']);
    expect(await dumpRecords(api.db)).toBe(before);
  });
});

describe('the lifecycle at the edge', () => {
  it.each([
    ['CTP_ADD_KIT', 'POST', '/v1/ctp/entities/ent-c/kits', { kitNo: 'kit-ent-c' }],
    ['CTP_REMOVE_ENTITY', 'DELETE', '/v1/ctp/entities/ent-c', undefined],
    ['CTP_REMOVE_KIT', 'DELETE', '/v1/ctp/entities/ent-c/kits/kit-ent-c', undefined],
    ['CTP_UPDATE_ENTITY', 'POST', '/v1/ctp/entities/ent-c/sync', undefined],
    ['CTP_UPDATE_KIT', 'POST', '/v1/ctp/entities/ent-c/kits/kit-ent-c/sync', undefined],
  ] as const)(
    '%s on an UNREGISTERED entity is 409 INVALID_STATE with the current statuses',
    async (_event, method, path, json) => {
      const before = await dumpRecords(api.db);
      const answer = await api.call(method, path, json === undefined ? {} : { json });
      expect(answer.status).toBe(409);
      expect(errorOf(answer).code).toBe('INVALID_STATE');
      expect((answer.body as { error: { details: unknown } }).error.details).toMatchObject({
        ctpEntityStatus: 'UNREGISTERED',
      });
      expect(await dumpRecords(api.db)).toBe(before);
    },
  );

  it('a second operation while one is in flight is 409 OPERATION_IN_PROGRESS; a repeated Idempotency-Key replays; reused for another request is 422', async () => {
    const first = await api.call('POST', '/v1/ctp/entities/ent-busy/registration', {
      json: { kitNo: 'kit-ent-busy' },
      headers: { 'idempotency-key': 'reg-busy-1' },
    });
    expect(first.status).toBe(202);
    const body = first.body as { operationId: string };
    expect(first.body).toEqual({
      operationId: body.operationId,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'ent-busy',
      kitNo: 'kit-ent-busy',
      status: 'QUEUED',
    });

    const replay = await api.call('POST', '/v1/ctp/entities/ent-busy/registration', {
      json: { kitNo: 'kit-ent-busy' },
      headers: { 'idempotency-key': 'reg-busy-1' },
    });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('location')).toBe(`/v1/ctp/operations/${body.operationId}`);

    const before = await dumpRecords(api.db);
    const busy = await api.call('POST', '/v1/ctp/entities/ent-busy/sync');
    expect(busy.status).toBe(409);
    expect(errorOf(busy).code).toBe('OPERATION_IN_PROGRESS');
    const reused = await api.call('DELETE', '/v1/ctp/entities/ent-busy', {
      headers: { 'idempotency-key': 'reg-busy-1' },
    });
    expect(reused.status).toBe(422);
    expect(errorOf(reused).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await dumpRecords(api.db)).toBe(before);

    const view = await api.call('GET', `/v1/ctp/operations/${body.operationId}`);
    expect(view.body).toMatchObject({
      operationId: body.operationId,
      status: 'QUEUED',
      entityId: 'ent-busy',
    });
    const ctp = await api.call('GET', '/v1/ctp/entities/ent-busy');
    expect(ctp.body).toEqual({
      entityId: 'ent-busy',
      ctpEntityStatus: 'REGISTRATION_IN_PROGRESS',
      clickToPayCustomerId: null,
      kits: [
        {
          kitNo: 'kit-ent-busy',
          ctpKitStatus: 'REGISTRATION_IN_PROGRESS',
          clickToPayPaymentInstrumentId: null,
        },
      ],
    });
    // Another tenant cannot see it.
    expect((await api.call('GET', `/v1/ctp/operations/${body.operationId}`, { as: DEMO })).status).toBe(404);
  });

  it('records a signed webhook once, however often it is delivered', async () => {
    const headers = signed(webhookBody);
    const first = await api.call('POST', '/v1/ctp/webhooks/saas', { as: null, raw: webhookBody, headers });
    const again = await api.call('POST', '/v1/ctp/webhooks/saas', { as: null, raw: webhookBody, headers });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect([first.body, again.body]).toEqual([
      { received: true, duplicate: false },
      { received: true, duplicate: true },
    ]);
    const rows = await api.db.orm.em
      .getConnection()
      .execute('select count(*)::int as n from ctp_webhook_inbox');
    expect(rows[0]).toEqual({ n: 1 });
  });
});

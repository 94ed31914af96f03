import { DEV_DEFAULTS } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { startHttpServer } from '@ctp/core/runtime';
import { SaasClient } from '@ctp/core/saas';
import { createOrm } from '@ctp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../src/app.ts';
import {
  type CallOptions,
  DEV_KEYS,
  dumpRecords,
  entityBody,
  errorOf,
  kitBody,
  startTestApi,
  type TestApi,
  VISA,
} from './helpers.ts';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  await api.call('PUT', '/v1/entities/ent-v', { json: entityBody() });
  await api.call('PUT', '/v1/entities/ent-v/kits/kit-v', { json: kitBody() });
});

afterAll(async () => {
  await api?.close();
});

interface BadRequest {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly options: CallOptions;
  readonly status: number;
  readonly code: string;
  /** The fields `details` must name (VALIDATION_FAILED only). */
  readonly fields?: readonly string[];
}

const ENTITY = '/v1/entities/ent-v';
const KIT = '/v1/entities/ent-v/kits/kit-v';
const NEW_ENTITY = '/v1/entities/ent-new';
const NEW_KIT = '/v1/entities/ent-v/kits/kit-new';

const address = entityBody().address as Record<string, unknown>;
const phone = entityBody().phone as Record<string, unknown>;

/** A body of about 70 KiB, valid JSON. */
const HUGE = JSON.stringify(entityBody({ firstName: 'x'.repeat(70 * 1024) }));

function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 8192) controller.enqueue(bytes.subarray(at, at + 8192));
      controller.close();
    },
  });
}

/** The same failures for each route that takes a body. */
function bodyFailures(method: string, path: string, valid: Record<string, unknown>): BadRequest[] {
  const json = { 'content-type': 'application/json' };
  return [
    {
      name: 'malformed JSON',
      options: { raw: '{"firstName": "A",', headers: json },
      status: 400,
      code: 'VALIDATION_FAILED',
      fields: ['body'],
    },
    {
      name: 'empty JSON body',
      options: { raw: '', headers: json },
      status: 400,
      code: 'VALIDATION_FAILED',
      fields: ['body'],
    },
    {
      name: 'JSON array',
      options: { json: [valid] },
      status: 400,
      code: 'VALIDATION_FAILED',
      fields: ['body'],
    },
    {
      name: 'unknown top-level field',
      options: { json: { ...valid, extra: 1 } },
      status: 400,
      code: 'VALIDATION_FAILED',
      fields: ['extra'],
    },
    {
      name: 'text/plain JSON',
      options: { raw: JSON.stringify(valid), headers: { 'content-type': 'text/plain' } },
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'form body',
      options: { raw: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'no content type',
      options: { raw: new TextEncoder().encode(JSON.stringify(valid)) },
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    { name: 'huge body', options: { raw: HUGE, headers: json }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
    {
      name: 'huge chunked body',
      options: { raw: chunked(HUGE), headers: json },
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
  ].map((failure) => ({ ...failure, method, path }));
}

const FAILURES: BadRequest[] = [
  ...bodyFailures('PUT', NEW_ENTITY, entityBody()),
  ...bodyFailures('PATCH', ENTITY, { firstName: 'A' }),
  ...bodyFailures('PUT', NEW_KIT, kitBody()),
  ...[
    {
      name: 'missing fields',
      json: { firstName: 'A' },
      fields: ['lastName', 'email', 'phone', 'address', 'locale', 'countryCode'],
    },
    {
      name: 'wrong types',
      json: entityBody({ firstName: 5, phone: '971501234567', consent: 'yes' }),
      fields: ['firstName', 'phone', 'consent'],
    },
    {
      name: 'nested unknown field',
      json: entityBody({ phone: { ...phone, extension: '1' } }),
      fields: ['phone.extension'],
    },
    {
      name: 'nested missing field',
      json: entityBody({ address: { line1: 'x', city: 'y', countryCode: 'AE' } }),
      fields: ['address.postalCode'],
    },
    {
      name: 'formats the SaaS would refuse',
      json: entityBody({
        email: 'not-an-email',
        locale: 'en-AE',
        countryCode: 'ae',
        phone: { countryCode: '+971', number: '50 123' },
        address: { ...address, countryCode: 'UAE' },
      }),
      fields: ['email', 'locale', 'countryCode', 'phone.countryCode', 'phone.number', 'address.countryCode'],
    },
    {
      name: 'empty names',
      json: entityBody({ firstName: '', lastName: 'x'.repeat(101) }),
      fields: ['firstName', 'lastName'],
    },
    {
      name: 'bad consent',
      json: entityBody({ consent: { accepted: 'yes', version: '1', acceptedAt: 'yesterday' } }),
      fields: ['consent.accepted', 'consent.acceptedAt'],
    },
    { name: 'null consent on PUT', json: entityBody({ consent: null }), fields: ['consent'] },
  ].map(({ name, json, fields }) => ({
    name,
    method: 'PUT',
    path: NEW_ENTITY,
    options: { json },
    status: 400,
    code: 'VALIDATION_FAILED',
    fields,
  })),
  ...[
    { name: 'empty patch', json: {}, fields: ['body'] },
    { name: 'null field', json: { firstName: null }, fields: ['firstName'] },
    {
      name: 'partial nested object',
      json: { phone: { number: '501234567' } },
      fields: ['phone.countryCode'],
    },
    { name: 'unknown field only', json: { nickname: 'A' }, fields: ['nickname'] },
    { name: 'CTP status is not writable', json: { ctpEntityStatus: 'ACTIVE' }, fields: ['ctpEntityStatus'] },
  ].map(({ name, json, fields }) => ({
    name,
    method: 'PATCH',
    path: ENTITY,
    options: { json },
    status: 400,
    code: 'VALIDATION_FAILED',
    fields,
  })),
  ...[
    { name: 'non-Luhn PAN', json: kitBody({ pan: '4111111111111112' }), fields: ['pan'] },
    { name: 'short PAN', json: kitBody({ pan: '411111111111' }), fields: ['pan'] },
    { name: 'long PAN', json: kitBody({ pan: '41111111111111111111' }), fields: ['pan'] },
    { name: 'spaced PAN', json: kitBody({ pan: '4111 1111 1111 1111' }), fields: ['pan'] },
    { name: 'numeric PAN', json: kitBody({ pan: 4111111111111111 }), fields: ['pan'] },
    {
      name: 'bad expiry',
      json: kitBody({ expiry: { month: '13', year: '29' } }),
      fields: ['expiry.month', 'expiry.year'],
    },
    {
      name: 'numeric expiry',
      json: kitBody({ expiry: { month: 12, year: 2030 } }),
      fields: ['expiry.month', 'expiry.year'],
    },
    { name: 'expired card', json: kitBody({ expiry: { month: '01', year: '2020' } }), fields: ['expiry'] },
    {
      name: 'missing name on card',
      json: { pan: VISA, expiry: { month: '12', year: '2099' } },
      fields: ['nameOnCard'],
    },
    { name: 'a CVV is never taken', json: kitBody({ cvv: '123' }), fields: ['cvv'] },
    { name: 'a PAN as a field name', json: { ...kitBody(), [VISA]: true }, fields: ['411111******1111'] },
  ].map(({ name, json, fields }, i) => ({
    name,
    method: 'PUT',
    // Half of them replace the existing card: a refused replace keeps the stored one.
    path: i % 2 === 0 ? NEW_KIT : KIT,
    options: { json },
    status: 400,
    code: 'VALIDATION_FAILED',
    fields,
  })),
  ...(
    [
      ['GET', '/v1/entities/a%20b', ['entityId']],
      ['GET', `/v1/entities/${'e'.repeat(65)}`, ['entityId']],
      ['GET', '/v1/entities/caf%C3%A9', ['entityId']],
      ['GET', '/v1/entities/a%2Fb', ['entityId']],
      ['GET', '/v1/entities/...', ['entityId']],
      ['PATCH', '/v1/entities/bad%24id', ['entityId']],
      ['PUT', '/v1/entities/bad!id', ['entityId']],
      ['GET', '/v1/entities/ent-v/kits/kit%20v', ['kitNo']],
      ['PUT', `/v1/entities/ent%3Bv/kits/${'k'.repeat(65)}`, ['entityId', 'kitNo']],
    ] as const
  ).map(([method, path, fields]) => ({
    name: `bad path parameter ${path}`,
    method,
    path,
    options: {
      GET: {},
      PATCH: { json: { firstName: 'A' } },
      PUT: { json: path.includes('/kits/') ? kitBody() : entityBody() },
    }[method],
    status: 400,
    code: 'VALIDATION_FAILED',
    fields,
  })),
];

describe('bad input', () => {
  it.each(FAILURES.map((f) => [`${f.method} ${f.path.slice(0, 40)}: ${f.name}`, f] as const))(
    '%s gets the right 4xx in the contract body and changes nothing',
    async (_, failure) => {
      const before = await dumpRecords(api.db);
      const answer = await api.call(failure.method, failure.path, failure.options);
      expect(answer.status).toBe(failure.status);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      const error = errorOf(answer);
      expect(error.code).toBe(failure.code);
      expect(Object.keys(answer.body as object)).toEqual(['error']);
      if (failure.fields !== undefined) expect([...error.fields].sort()).toEqual([...failure.fields].sort());
      expect(answer.text).not.toMatch(/\bat .*\.ts:\d+/);
      expect(await dumpRecords(api.db)).toBe(before);
    },
  );

  it('accepts a JSON body with a charset, and a body just under the limit gets past the size check', async () => {
    const charset = await api.call('PATCH', ENTITY, {
      raw: JSON.stringify({ lastName: 'Charset' }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(charset.status).toBe(200);
    const nearLimit = JSON.stringify({ ...entityBody(), padding: 'x'.repeat(60 * 1024) });
    const answer = await api.call('PUT', NEW_ENTITY, {
      raw: chunked(nearLimit),
      headers: { 'content-type': 'application/json' },
    });
    // Read whole (not 413) and then refused for the unknown field.
    expect(answer.status).toBe(400);
    expect(errorOf(answer).fields).toEqual(['padding']);
  });
});

describe('the HTTP surface', () => {
  it('answers unknown routes with the contract body', async () => {
    const answer = await api.call('GET', '/nothing-here', { as: null });
    expect(answer.status).toBe(404);
    expect(errorOf(answer).code).toBe('NOT_FOUND');
    const method = await api.call('DELETE', ENTITY);
    expect(method.status).toBe(404);
    expect(errorOf(method).code).toBe('NOT_FOUND');
  });

  it('carries a request id in and out, and secure headers', async () => {
    const given = await api.call('GET', ENTITY, { headers: { 'x-request-id': 'client-req-42' } });
    expect(given.headers.get('x-request-id')).toBe('client-req-42');
    expect(
      api.logLines.some(
        (l) => l.includes('"requestId":"client-req-42"') && l.includes('"tenant":"ENBDTABBY"'),
      ),
    ).toBe(true);
    for (const unusable of ['has spaces in it', VISA, 'x'.repeat(200)]) {
      const answer = await api.call('GET', ENTITY, { headers: { 'x-request-id': unusable } });
      expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const error = await api.call('GET', '/v1/entities/nobody');
    expect(error.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.headers.get('x-content-type-options')).toBe('nosniff');
    expect(error.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(error.headers.get('strict-transport-security')).toMatch(/max-age=/);
  });

  it('writes one access log line per request, with the tenant bound once authenticated', async () => {
    const count = api.logLines.length;
    await api.call('GET', ENTITY, { headers: { 'x-request-id': 'one-line-please' } });
    const lines = api.logLines.slice(count).filter((l) => l.includes('one-line-please'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      msg: 'request',
      method: 'GET',
      path: ENTITY,
      status: 200,
      tenant: 'ENBDTABBY',
      requestId: 'one-line-please',
    });
  });

  it('serves health, readiness, the OpenAPI document and the reference page', async () => {
    expect((await api.call('GET', '/healthz', { as: null })).status).toBe(200);
    expect((await api.call('GET', '/readyz', { as: null })).body).toMatchObject({ status: 'ready' });
    const doc = await api.call('GET', '/openapi.json', { as: null });
    expect(doc.status).toBe(200);
    const document = doc.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'PUT /v1/entities/{entityId}',
        'PATCH /v1/entities/{entityId}',
        'GET /v1/entities/{entityId}',
        'PUT /v1/entities/{entityId}/kits/{kitNo}',
        'GET /v1/entities/{entityId}/kits/{kitNo}',
        'PATCH /v1/entities/{entityId}/kits/{kitNo}',
        'PUT /v1/entities/{entityId}/kits/{kitNo}/status',
        'POST /v1/entities/{entityId}/kits/{kitNo}/replace',
        'GET /v1/entities/{entityId}/kits/{kitNo}/replacement',
        'PUT /v1/entities/{entityId}/status',
        'POST /v1/ctp/entities/{entityId}/registration',
        'POST /v1/ctp/entities/{entityId}/kits',
        'DELETE /v1/ctp/entities/{entityId}',
        'DELETE /v1/ctp/entities/{entityId}/kits/{kitNo}',
        'POST /v1/ctp/entities/{entityId}/sync',
        'POST /v1/ctp/entities/{entityId}/kits/{kitNo}/sync',
        'GET /v1/ctp/entities/{entityId}',
        'GET /v1/ctp/entities/{entityId}/network',
        'GET /v1/ctp/operations/{operationId}',
        'GET /v1/ctp/traces/{requestTraceId}',
        'GET /v1/ctp/settings',
        'PUT /v1/ctp/settings',
        'POST /v1/ctp/batches',
        'GET /v1/ctp/batches',
        'GET /v1/ctp/batches/{batchId}',
        'GET /v1/ctp/batches/{batchId}/items',
        'POST /v1/ctp/batches/{batchId}/cancel',
        'POST /v1/ctp/reconciliations',
        'GET /v1/ctp/reconciliations',
        'GET /v1/ctp/reconciliations/{reconciliationId}',
        'GET /v1/ctp/reconciliations/{reconciliationId}/drifts',
        'POST /v1/ctp/webhooks/saas',
        ...[
          'registerEntityAndKit',
          'addKit',
          'removeKit',
          'removeEntity',
          'fetchRequestStatus',
          'fetchEntityDetails',
        ].map((name) => `POST /Yappay/click-to-pay/v1/${name}`),
      ].sort(),
    );
    expect(doc.text).toContain('"bearerAuth"');
    expect(doc.text).toContain('"EntityInput"');
    const page = await api.call('GET', '/docs', { as: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('/openapi.json');
  });
});

describe('a database that is down', () => {
  it('answers 503 UNAVAILABLE (nothing was done, retry later) and is logged with the request id', async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 'api', destination: { write: (l) => void lines.push(l) } });
    const orm = await createOrm({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/ctp' });
    const saas = new SaasClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'unused-in-these-tests' });
    const app = createApiApp({
      orm,
      logger,
      panCipher: api.panCipher,
      saas,
      webhookSecret: DEV_DEFAULTS.CTP_WEBHOOK_SECRET,
      apiKeyPepper: DEV_DEFAULTS.API_KEY_PEPPER,
    });
    const server = await startHttpServer(app, { port: 0, hostname: '127.0.0.1', logger });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const answer = await fetch(`${base}/v1/entities/ent-v`, {
        headers: { authorization: `Bearer ${DEV_KEYS.ENBDTABBY}`, 'x-request-id': 'db-down-1' },
      });
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(await answer.json()).toEqual({
        error: { code: 'UNAVAILABLE', message: 'a dependency is unavailable; nothing was done' },
      });
      expect(lines.some((l) => l.includes('"level":"error"') && l.includes('db-down-1'))).toBe(true);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
    } finally {
      await server.close();
      await orm.close();
    }
  });
});

describe('card data', () => {
  it('never appears in an answer or a log line, even from refused requests', () => {
    expect(api.answers.length).toBeGreaterThan(FAILURES.length);
    expect(api.leakedPans()).toEqual([]);
  });
});

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, dumpRecords, ENBD, entityBody, kitBody, startTestApi, type TestApi } from './helpers.ts';

// Hostile input, generated: arbitrary JSON, raw bodies, content types, headers and path ids on
// every route. Whatever a client sends, the api never answers 5xx, answers in the contract's
// error body, and a refused request (4xx) changes no row.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  await api.call('PUT', '/v1/entities/fz-e', { json: entityBody() });
  await api.call('PUT', '/v1/entities/fz-e/kits/fz-k', { json: kitBody() });
});
afterAll(async () => {
  await api?.close();
});

const ROUTES: readonly (readonly [string, string])[] = [
  ['PUT', '/v1/entities/{e}'],
  ['PATCH', '/v1/entities/{e}'],
  ['GET', '/v1/entities/{e}'],
  ['PUT', '/v1/entities/{e}/kits/{k}'],
  ['GET', '/v1/entities/{e}/kits/{k}'],
  ['POST', '/v1/ctp/entities/{e}/registration'],
  ['POST', '/v1/ctp/entities/{e}/kits'],
  ['DELETE', '/v1/ctp/entities/{e}'],
  ['DELETE', '/v1/ctp/entities/{e}/kits/{k}'],
  ['POST', '/v1/ctp/entities/{e}/sync'],
  ['POST', '/v1/ctp/entities/{e}/kits/{k}/sync'],
  ['GET', '/v1/ctp/entities/{e}'],
  ['GET', '/v1/ctp/operations/{e}'],
  ['GET', '/v1/ctp/traces/{e}'],
  ['POST', '/v1/ctp/webhooks/saas'],
];

const printable = fc.string({
  unit: fc.constantFrom(...'abcXYZ019 -_.:/%{}"\\\'<>;=+'.split('')),
  maxLength: 40,
});
const pathId = fc.oneof(
  fc.constant('fz-e'),
  fc.constant('fz-k'),
  printable.map(encodeURIComponent),
  fc.constant('x'.repeat(80)),
);
/**
 * Text PostgreSQL cannot store (NUL) or would alter (a lone surrogate), card numbers and plain
 * text, for a string field of a well-formed body: the api must refuse the first three with 400.
 */
const hostileText = fc.oneof(
  fc.string({
    unit: fc.constantFrom('a', ' ', '\u0000', '\ud800', '\udfff', '\u00e9', '#', '&'),
    maxLength: 20,
  }),
  fc.constantFrom('4111111111111111', 'card 4111 1111 1111 1111', '5555-5555-5555-4444', 'Aisha'),
);
const entityFields = [
  'firstName',
  'lastName',
  'email',
  'line1',
  'line2',
  'city',
  'state',
  'postalCode',
  'version',
];
const withHostileText = fc
  .tuple(fc.subarray(entityFields, { minLength: 1 }), hostileText)
  .map(([fields, text]) => {
    const valid = entityBody({
      consent: { accepted: true, version: 'v1', acceptedAt: '2026-01-02T03:04:05Z' },
    });
    const address = { ...(valid.address as Record<string, unknown>) };
    const consent = { ...(valid.consent as Record<string, unknown>) };
    for (const field of fields) {
      if (field === 'version') consent.version = text;
      else if (field in address || ['line2', 'state'].includes(field)) address[field] = text;
      else valid[field] = text;
    }
    return { raw: JSON.stringify({ ...valid, address, consent }), type: 'application/json' };
  });
const body = fc.oneof(
  fc.jsonValue().map((value) => ({ raw: JSON.stringify(value), type: 'application/json' })),
  withHostileText,
  fc.record({ nameOnCard: hostileText }).map(({ nameOnCard }) => ({
    raw: JSON.stringify(kitBody({ nameOnCard })),
    type: 'application/json',
  })),
  fc
    .record({ kitNo: fc.oneof(fc.constant('fz-k'), printable) })
    .map((value) => ({ raw: JSON.stringify(value), type: 'application/json' })),
  fc.string({ maxLength: 200 }).map((raw) => ({ raw, type: 'application/json' })),
  fc
    .tuple(
      fc.jsonValue(),
      fc.constantFrom(
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
      ),
    )
    .map(([value, type]) => ({ raw: JSON.stringify(value), type })),
  fc
    .integer({ min: 60, max: 200 })
    .map((kib) => ({ raw: JSON.stringify({ kitNo: 'k'.repeat(kib * 1024) }), type: 'application/json' })),
  fc.constant(undefined),
);
const headers = fc.record(
  {
    'idempotency-key': printable,
    'x-tenant-id': fc.constantFrom(ENBD, DEMO, 'NOBODY', ''),
    'x-request-id': printable,
    'webhook-id': printable,
    'webhook-timestamp': fc.oneof(fc.integer().map(String), printable),
    'webhook-signature': printable,
  },
  { requiredKeys: [] },
);

describe('hostile input on every route', () => {
  it('never gets a 5xx, always the contract error body on 4xx, and changes nothing when refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        pathId,
        pathId,
        body,
        headers,
        fc.constantFrom(ENBD, DEMO, null),
        async ([method, template], e, k, sent, extra, as) => {
          const path = template.replace('{e}', e).replace('{k}', k);
          // fetch refuses a body on GET; those routes get their hostility from path and headers.
          if (method === 'GET') sent = undefined;
          const before = await dumpRecords(api.db);
          const answer = await api.call(method, path, {
            as,
            headers: { ...extra, ...(sent === undefined ? {} : { 'content-type': sent.type }) },
            ...(sent === undefined ? {} : { raw: sent.raw }),
          });
          expect(
            answer.status,
            `${method} ${path} → ${answer.status} ${answer.text.slice(0, 200)}`,
          ).toBeLessThan(500);
          if (answer.status >= 400) {
            expect(Object.keys(answer.body as object)).toEqual(['error']);
            expect(await dumpRecords(api.db)).toBe(before);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(api.leakedPans()).toEqual([]);
  });
});

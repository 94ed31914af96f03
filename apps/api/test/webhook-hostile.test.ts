import { randomUUID } from 'node:crypto';
import { findPans } from '@ctp/core/cards';
import { DEV_DEFAULTS } from '@ctp/core/config';
import { signWebhook } from '@ctp/core/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpRecords, errorOf, startTestApi, type TestApi } from './helpers.ts';

// What the SaaS signs is taken in as the contract allows, made storable and masked on the way
// in; what cannot be stored is refused with 400 before anything is written, never with a 5xx
// (the SaaS redelivers anything but a 2xx for 27 hours).

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api?.close();
});

const completed = (error: Record<string, unknown>, overrides: Record<string, unknown> = {}) => ({
  type: 'request.completed',
  tenant: 'ENBDTABBY',
  data: {
    requestTraceId: randomUUID(),
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    status: 'FAILED',
    externalConsumerId: 'ent-hostile',
    externalInstrumentId: 'kit-hostile',
    error,
    updatedAt: '2026-11-23T10:00:05Z',
    ...overrides,
  },
});

function deliver(raw: string, id: string = `msg_${randomUUID()}`) {
  return api.call('POST', '/v1/ctp/webhooks/saas', {
    as: null,
    raw,
    headers: { ...signWebhook(DEV_DEFAULTS.CTP_WEBHOOK_SECRET, id, raw), 'content-type': 'application/json' },
  });
}

async function inboxPayload(id: string): Promise<string> {
  const rows = await api.db.orm.em
    .getConnection()
    .execute<{ payload: string }[]>(
      'select payload::text as payload from ctp_webhook_inbox where webhook_id = ?',
      [id],
    );
  expect(rows).toHaveLength(1);
  return rows[0]?.payload ?? '';
}

describe('a signed webhook carrying card numbers', () => {
  it('is stored masked, and no answer or log line holds the card number', async () => {
    const id = `msg_${randomUUID()}`;
    const raw = JSON.stringify(
      completed({
        code: 'REQUEST_REJECTED',
        message: 'card 4111111111111111 rejected',
        details: 'PAN 4111 1111 1111 1111',
      }),
    );
    const answer = await deliver(raw, id);
    expect(answer.status, answer.text).toBe(200);
    const payload = await inboxPayload(id);
    expect(findPans(payload)).toEqual([]);
    expect(JSON.parse(payload).data.error).toEqual({
      code: 'REQUEST_REJECTED',
      message: 'card 411111******1111 rejected',
      details: 'PAN 411111******1111',
    });
    const outbox = await api.db.orm.em.getConnection().execute('select payload::text from ctp_outbox');
    expect(findPans(JSON.stringify(outbox))).toEqual([]);
    expect(api.leakedPans()).toEqual([]);
  });
});

describe('a signed webhook whose id quotes a card number', () => {
  it('is recorded under the masked id', async () => {
    const raw = JSON.stringify(completed({ code: 'X', message: 'm' }));
    const answer = await deliver(raw, 'msg_4111111111111111');
    expect(answer.status, answer.text).toBe(200);
    expect(await inboxPayload('msg_411111******1111')).toContain('"code": "X"');
    const keys = await api.db.orm.em
      .getConnection()
      .execute('select dedupe_key, payload::text from ctp_outbox');
    expect(findPans(JSON.stringify(keys))).toEqual([]);
    expect(api.leakedPans()).toEqual([]);
  });
});

describe('a signed webhook with text PostgreSQL cannot store as sent', () => {
  it.each([
    ['a NUL', 'rejected\u0000 by the network', 'rejected\uFFFD by the network'],
    ['a lone high surrogate', 'rejected \uD800 here', 'rejected \uFFFD here'],
    ['a lone low surrogate', 'rejected \uDC00 here', 'rejected \uFFFD here'],
    ['a NUL next to a card number', '4111111111111111\u0000', '411111******1111\uFFFD'],
  ])('with %s is taken in (2xx), the text made storable', async (_name, text, stored) => {
    const id = `msg_${randomUUID()}`;
    // JSON.stringify escapes NUL and lone surrogates (`\u0000`, `\ud800`): valid JSON the SaaS may send.
    const raw = JSON.stringify(completed({ code: 'REQUEST_REJECTED', message: text, details: text }));
    const answer = await deliver(raw, id);
    expect(answer.status, answer.text).toBe(200);
    const error = JSON.parse(await inboxPayload(id)).data.error;
    expect(error).toEqual({ code: 'REQUEST_REJECTED', message: stored, details: stored });
    // A redelivery is a duplicate, not a second row or a failure.
    const again = await deliver(raw, id);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual({ received: true, duplicate: true });
  });

  it('with a NUL in the tenant, in ids and in a key is taken in too', async () => {
    const id = `msg_${randomUUID()}`;
    const raw = JSON.stringify({
      ...completed({ code: 'X', message: 'm' }, { externalConsumerId: 'ent\u0000x' }),
      'extra\u0000key': 'v\uD800',
    });
    const answer = await deliver(raw, id);
    expect(answer.status, answer.text).toBe(200);
    expect(JSON.parse(await inboxPayload(id)).data.externalConsumerId).toBe('ent\uFFFDx');
  });
});

describe('a signed webhook that does not fit the columns it is written to', () => {
  const ok = JSON.stringify(completed({ code: 'REQUEST_REJECTED', message: 'm' }));
  it.each([
    ['a webhook-id over 255 characters', ok, `msg_${'a'.repeat(252)}`, 'webhook-id'],
    // The id also keys the job's outbox row (`webhook:webhook-<id>`, varchar(255)).
    ['a webhook-id one character longer than its job key holds', ok, `msg_${'a'.repeat(236)}`, 'webhook-id'],
    // Characters a job id cannot hold are escaped (`:` → `%3a`): the escaped key must fit too.
    ['a webhook-id that is too long once escaped for the job id', ok, `msg_${':'.repeat(100)}`, 'webhook-id'],
    [
      'a tenant over 64 characters',
      JSON.stringify({ ...completed({ code: 'X', message: 'm' }), tenant: 'T'.repeat(65) }),
      undefined,
      'tenant',
    ],
    [
      'an error code over 64 characters',
      JSON.stringify(completed({ code: 'C'.repeat(65), message: 'm' })),
      undefined,
      'data.error.code',
    ],
    [
      'a requestTraceId over 128 characters',
      JSON.stringify(completed({ code: 'X', message: 'm' }, { requestTraceId: 'r'.repeat(129) })),
      undefined,
      'data.requestTraceId',
    ],
  ])('%s is refused with 400 naming it, and nothing is written', async (_name, raw, id, field) => {
    const before = await dumpRecords(api.db);
    const answer = await deliver(raw, id);
    expect(answer.status, answer.text).toBe(400);
    expect(errorOf(answer)).toMatchObject({ code: 'VALIDATION_FAILED', fields: [field] });
    expect(Object.keys(answer.body as object)).toEqual(['error']);
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it('the longest webhook-id its job key holds (239 plain characters) is taken in', async () => {
    const id = `msg_${'b'.repeat(235)}`;
    const answer = await deliver(JSON.stringify(completed({ code: 'X', message: 'm' })), id);
    expect(answer.status, answer.text).toBe(200);
    expect(await inboxPayload(id)).toContain('"code": "X"');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, dumpRecords, entityBody, errorOf, kitBody, startTestApi, type TestApi } from './helpers.ts';

// The card and customer lifecycle routes at the edge (no worker): bad input answers a clear 4xx
// from the error table and writes nothing; a status change writes the record and its queued CTP
// work in one transaction. The flows against the worker and the simulator are in
// tests/e2e/test/card-lifecycle.test.ts.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  expect((await api.call('PUT', '/v1/entities/cl-1', { json: entityBody() })).status).toBe(201);
  expect((await api.call('PUT', '/v1/entities/cl-1/kits/cl-1-k', { json: kitBody() })).status).toBe(201);
});

afterAll(async () => {
  expect(api.leakedPans()).toEqual([]);
  await api?.close();
});

async function refused(method: string, path: string, json: unknown, status: number, code: string) {
  const before = await dumpRecords(api.db);
  const answer = await api.call(method, path, { json });
  expect(answer.status, answer.text).toBe(status);
  expect(errorOf(answer).code).toBe(code);
  expect(await dumpRecords(api.db)).toBe(before);
  return errorOf(answer);
}

describe('card and customer status: bad input writes nothing', () => {
  it('answers a new card and customer ACTIVE', async () => {
    const kit = await api.call('GET', '/v1/entities/cl-1/kits/cl-1-k');
    expect(kit.body).toMatchObject({ status: 'ACTIVE', ctpKitStatus: 'UNREGISTERED' });
    const entity = await api.call('GET', '/v1/entities/cl-1');
    expect(entity.body).toMatchObject({ status: 'ACTIVE', kits: [{ status: 'ACTIVE' }] });
  });

  it('refuses a status outside the list, a missing one, or an extra field with 400 naming the field', async () => {
    const path = '/v1/entities/cl-1/kits/cl-1-k/status';
    expect((await refused('PUT', path, { status: 'LOST' }, 400, 'VALIDATION_FAILED')).fields).toEqual([
      'status',
    ]);
    expect((await refused('PUT', path, {}, 400, 'VALIDATION_FAILED')).fields).toEqual(['status']);
    expect(
      (await refused('PUT', path, { status: 'ACTIVE', why: 'x' }, 400, 'VALIDATION_FAILED')).fields,
    ).toEqual(['why']);
    // A customer is never BLOCKED.
    expect(
      (await refused('PUT', '/v1/entities/cl-1/status', { status: 'BLOCKED' }, 400, 'VALIDATION_FAILED'))
        .fields,
    ).toEqual(['status']);
    expect((await refused('PUT', path, { status: 'CLOSED\u0000' }, 400, 'VALIDATION_FAILED')).fields).toEqual(
      ['status'],
    );
  });

  it("answers 404 for an unknown card or customer, and for another tenant's", async () => {
    await refused('PUT', '/v1/entities/cl-1/kits/nope/status', { status: 'CLOSED' }, 404, 'NOT_FOUND');
    await refused('PUT', '/v1/entities/nobody/status', { status: 'CLOSED' }, 404, 'NOT_FOUND');
    const before = await dumpRecords(api.db);
    const foreign = await api.call('PUT', '/v1/entities/cl-1/status', {
      json: { status: 'CLOSED' },
      as: DEMO,
    });
    expect(foreign.status).toBe(404);
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it('refuses to reopen a CLOSED card (409 INVALID_STATE) and answers the same status again unchanged', async () => {
    await api.call('PUT', '/v1/entities/cl-1/kits/cl-2-k', { json: kitBody() });
    const closed = await api.call('PUT', '/v1/entities/cl-1/kits/cl-2-k/status', {
      json: { status: 'CLOSED' },
    });
    expect(closed.body).toMatchObject({ status: 'CLOSED' });
    const error = await refused(
      'PUT',
      '/v1/entities/cl-1/kits/cl-2-k/status',
      { status: 'BLOCKED' },
      409,
      'INVALID_STATE',
    );
    expect(error.message).toMatch(/CLOSED/);
    const before = await dumpRecords(api.db);
    const same = await api.call('PUT', '/v1/entities/cl-1/kits/cl-2-k/status', {
      json: { status: 'CLOSED' },
    });
    expect(same.status).toBe(200);
    expect(await dumpRecords(api.db)).toBe(before);
  });
});

describe('card change (PATCH): bad input writes nothing', () => {
  const path = '/v1/entities/cl-1/kits/cl-1-k';

  it('refuses an empty patch, a PAN, an expired or malformed expiry, a card number as a name', async () => {
    expect((await refused('PATCH', path, {}, 400, 'VALIDATION_FAILED')).fields).toEqual(['body']);
    expect(
      (await refused('PATCH', path, { pan: '4111111111111111' }, 400, 'VALIDATION_FAILED')).fields,
    ).toEqual(['pan']);
    expect(
      (await refused('PATCH', path, { expiry: { month: '01', year: '2020' } }, 400, 'VALIDATION_FAILED'))
        .fields,
    ).toEqual(['expiry']);
    expect(
      (await refused('PATCH', path, { expiry: { month: '13', year: '2030' } }, 400, 'VALIDATION_FAILED'))
        .fields,
    ).toEqual(['expiry.month']);
    expect(
      (await refused('PATCH', path, { nameOnCard: 'A 4111111111111111' }, 400, 'VALIDATION_FAILED')).fields,
    ).toEqual(['nameOnCard']);
  });

  it('changes the name on card of a card not on Click to Pay without starting anything', async () => {
    const changed = await api.call('PATCH', path, { json: { nameOnCard: 'A KHAN' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ nameOnCard: 'A KHAN', expiry: { month: '12', year: '2099' } });
    const [row] = await api.db.orm.em
      .getConnection()
      .execute('select count(*)::int as n from ctp_pending_sync');
    expect(row?.n).toBe(0);
  });
});

describe('card replacement: bad input writes nothing', () => {
  const replace = (kitNo: string, body: Record<string, unknown>) => ({
    path: `/v1/entities/cl-1/kits/${kitNo}/replace`,
    body: {
      newKitNo: 'cl-1-new',
      pan: '5555555555554444',
      expiry: { month: '09', year: '2034' },
      reason: 'REISSUE',
      ...body,
    },
  });

  it('refuses a newKitNo that exists (also the card itself, or another entity’s) with 409 KIT_ALREADY_EXISTS', async () => {
    await api.call('PUT', '/v1/entities/cl-other', { json: entityBody() });
    await api.call('PUT', '/v1/entities/cl-other/kits/cl-other-k', { json: kitBody() });
    for (const newKitNo of ['cl-1-k', 'cl-other-k']) {
      const { path, body } = replace('cl-1-k', { newKitNo });
      await refused('POST', path, body, 409, 'KIT_ALREADY_EXISTS');
    }
  });

  it('refuses a PAN failing Luhn, a reason outside the list, an unknown field, a bad newKitNo with 400', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ pan: '4111111111111112' }, 'pan'],
      [{ reason: 'STOLEN' }, 'reason'],
      [{ reason: undefined }, 'reason'],
      [{ newKitNo: 'a/b' }, 'newKitNo'],
      [{ expiry: { month: '01', year: '2020' } }, 'expiry'],
      [{ color: 'red' }, 'color'],
    ];
    for (const [override, field] of cases) {
      const { path, body } = replace('cl-1-k', override);
      expect((await refused('POST', path, body, 400, 'VALIDATION_FAILED')).fields, field).toEqual([field]);
    }
  });

  it('refuses replacing a CLOSED card (409 CARD_NOT_ACTIVE), an unknown card (404), a CLOSED customer’s card (409)', async () => {
    await api.call('PUT', '/v1/entities/cl-1/kits/cl-3-k', { json: kitBody() });
    await api.call('PUT', '/v1/entities/cl-1/kits/cl-3-k/status', { json: { status: 'CLOSED' } });
    const closed = replace('cl-3-k', {});
    await refused('POST', closed.path, closed.body, 409, 'CARD_NOT_ACTIVE');
    const unknown = replace('no-such-kit', {});
    await refused('POST', unknown.path, unknown.body, 404, 'NOT_FOUND');
    await api.call('PUT', '/v1/entities/cl-gone', { json: entityBody() });
    await api.call('PUT', '/v1/entities/cl-gone/kits/cl-gone-k', { json: kitBody() });
    await api.call('PUT', '/v1/entities/cl-gone/status', { json: { status: 'CLOSED' } });
    await refused(
      'POST',
      '/v1/entities/cl-gone/kits/cl-gone-k/replace',
      replace('cl-gone-k', { newKitNo: 'cl-gone-new' }).body,
      409,
      'CUSTOMER_NOT_ACTIVE',
    );
  });

  it('creates the new card, closes the old one, and answers no plan for a card not on Click to Pay', async () => {
    const { path, body } = replace('cl-1-k', { reason: 'LOST_STOLEN' });
    const replaced = await api.call('POST', path, { json: body });
    expect(replaced.status, replaced.text).toBe(201);
    expect(replaced.body).toMatchObject({
      kitNo: 'cl-1-new',
      status: 'ACTIVE',
      pan: '555555******4444',
      replacement: null,
    });
    expect((await api.call('GET', '/v1/entities/cl-1/kits/cl-1-k')).body).toMatchObject({ status: 'CLOSED' });
    const none = await api.call('GET', '/v1/entities/cl-1/kits/cl-1-new/replacement');
    expect(none.status).toBe(404);
  });
});

describe('Idempotency-Key on the record changes (as on the operation routes)', () => {
  const keyed = (key: string) => ({ 'idempotency-key': key });
  const auditRows = async () => {
    const [row] = await api.db.orm.em
      .getConnection()
      .execute(`select count(*)::int as n from ctp_audit_log where details->>'idempotencyKey' is not null`);
    return row?.n as number;
  };

  beforeAll(async () => {
    expect((await api.call('PUT', '/v1/entities/idem-1', { json: entityBody() })).status).toBe(201);
    for (const kitNo of ['idem-1-a', 'idem-1-b', 'idem-1-c', 'idem-1-d'])
      expect((await api.call('PUT', `/v1/entities/idem-1/kits/${kitNo}`, { json: kitBody() })).status).toBe(
        201,
      );
  });

  const replaceBody = (newKitNo: string) => ({
    newKitNo,
    pan: '5555555555554444',
    expiry: { month: '09', year: '2034' },
    reason: 'REISSUE',
  });

  it('a replace retried with its key answers the first answer (replayed) and writes nothing; another body is 422; no key is 409 as before', async () => {
    const path = '/v1/entities/idem-1/kits/idem-1-a/replace';
    const first = await api.call('POST', path, { json: replaceBody('idem-1-a2'), headers: keyed('rep-1') });
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const before = await dumpRecords(api.db);

    const again = await api.call('POST', path, { json: replaceBody('idem-1-a2'), headers: keyed('rep-1') });
    expect(again.status, again.text).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe('/v1/entities/idem-1/kits/idem-1-a2');

    const other = await api.call('POST', path, { json: replaceBody('idem-1-a3'), headers: keyed('rep-1') });
    expect(other.status, other.text).toBe(422);
    expect(errorOf(other).code).toBe('IDEMPOTENCY_KEY_REUSED');

    const unkeyed = await api.call('POST', path, { json: replaceBody('idem-1-a2') });
    expect(unkeyed.status).toBe(409);
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it('the same replace sent twice at once with one key makes one card; both answer it', async () => {
    const path = '/v1/entities/idem-1/kits/idem-1-b/replace';
    const send = () => api.call('POST', path, { json: replaceBody('idem-1-b2'), headers: keyed('rep-2') });
    const answers = await Promise.all([send(), send()]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    expect(answers[0]?.body).toEqual(answers[1]?.body);
    expect(answers.map((a) => a.headers.get('idempotent-replayed')).sort()).toEqual(['true', null].sort());
    const [row] = await api.db.orm.em
      .getConnection()
      .execute(`select count(*)::int as n from kit where kit_no = 'idem-1-b2'`);
    expect(row?.n).toBe(1);
  });

  it('a PATCH retried with its key answers the first answer, even after a later change; another body is 422', async () => {
    const path = '/v1/entities/idem-1/kits/idem-1-c';
    const first = await api.call('PATCH', path, {
      json: { nameOnCard: 'FIRST NAME' },
      headers: keyed('patch-1'),
    });
    expect(first.status, first.text).toBe(200);
    const later = await api.call('PATCH', path, { json: { nameOnCard: 'LATER NAME' } });
    expect(later.body).toMatchObject({ nameOnCard: 'LATER NAME' });

    const before = await dumpRecords(api.db);
    const again = await api.call('PATCH', path, {
      json: { nameOnCard: 'FIRST NAME' },
      headers: keyed('patch-1'),
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await api.call('PATCH', path, {
      json: { nameOnCard: 'OTHER NAME' },
      headers: keyed('patch-1'),
    });
    expect(other.status).toBe(422);
    expect(errorOf(other).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await dumpRecords(api.db)).toBe(before);
    expect((await api.call('GET', path)).body).toMatchObject({ nameOnCard: 'LATER NAME' });
  });

  it('a card or customer status change retried with its key answers the first answer; another status or route is 422', async () => {
    const kitPath = '/v1/entities/idem-1/kits/idem-1-d/status';
    const blocked = await api.call('PUT', kitPath, { json: { status: 'BLOCKED' }, headers: keyed('st-1') });
    expect(blocked.status, blocked.text).toBe(200);
    const reopened = await api.call('PUT', kitPath, { json: { status: 'ACTIVE' } });
    expect(reopened.body).toMatchObject({ status: 'ACTIVE' });

    const before = await dumpRecords(api.db);
    const again = await api.call('PUT', kitPath, { json: { status: 'BLOCKED' }, headers: keyed('st-1') });
    expect(again.body).toEqual(blocked.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(
      (await api.call('PUT', kitPath, { json: { status: 'CLOSED' }, headers: keyed('st-1') })).status,
    ).toBe(422);
    // A key is the tenant's, whatever the route: reused on the customer it is another request.
    const elsewhere = await api.call('PUT', '/v1/entities/idem-1/status', {
      json: { status: 'CLOSED' },
      headers: keyed('st-1'),
    });
    expect(elsewhere.status).toBe(422);
    expect(await dumpRecords(api.db)).toBe(before);
    expect((await api.call('GET', '/v1/entities/idem-1/kits/idem-1-d')).body).toMatchObject({
      status: 'ACTIVE',
    });

    await api.call('PUT', '/v1/entities/cl-idem-e', { json: entityBody() });
    const closed = await api.call('PUT', '/v1/entities/cl-idem-e/status', {
      json: { status: 'CLOSED' },
      headers: keyed('st-2'),
    });
    expect(closed.status, closed.text).toBe(200);
    await api.call('PUT', '/v1/entities/cl-idem-e/status', { json: { status: 'ACTIVE' } });
    const closedAgain = await api.call('PUT', '/v1/entities/cl-idem-e/status', {
      json: { status: 'CLOSED' },
      headers: keyed('st-2'),
    });
    expect(closedAgain.body).toEqual(closed.body);
    expect(closedAgain.headers.get('idempotent-replayed')).toBe('true');
    expect((await api.call('GET', '/v1/entities/cl-idem-e')).body).toMatchObject({ status: 'ACTIVE' });
  });

  it('a change without a key keeps no key anywhere', async () => {
    const before = await auditRows();
    expect(
      (await api.call('PATCH', '/v1/entities/idem-1/kits/idem-1-c', { json: { nameOnCard: 'NO KEY' } }))
        .status,
    ).toBe(200);
    expect(await auditRows()).toBe(before);
  });
});

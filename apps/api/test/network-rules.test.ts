import { CtpOperation } from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpRecords, entityBody, errorOf, kitBody, startTestApi, type TestApi } from './helpers.ts';

// The card network's data rules (ctp-saas.md, "Network data rules (v2)") at our edge: what can
// be sent once cleaned is taken as written and its operations record what was cleaned; what
// cannot is refused with 400 naming the field, before anything is stored or queued (before,
// such data was taken and the operation failed later, asynchronously, at the network).

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  await api.call('PUT', '/v1/entities/nr-e', { json: entityBody() });
  await api.call('PUT', '/v1/entities/nr-e/kits/nr-k', { json: kitBody() });
});
afterAll(async () => {
  await api?.close();
});

const address = entityBody().address as Record<string, unknown>;
/** `count` words of 9 letters, 10 characters a word with its space. */
const words = (count: number) => Array.from({ length: count }, (_, i) => `street${i}xy`).join(' ');

const REFUSED: readonly (readonly [string, Record<string, unknown>, string])[] = [
  ['a city over 32 characters', { city: 'C'.repeat(33) }, 'address.city'],
  ['a postal code over 9 characters', { postalCode: '1234567890' }, 'address.postalCode'],
  ['line1 that needs four lines of 64', { line1: words(20) }, 'address.line1'],
  ['line2 that does not fit after a wrapped line1', { line1: words(12), line2: words(7) }, 'address.line2'],
  ['a word longer than a line', { line1: `Plot ${'x'.repeat(65)}` }, 'address.line1'],
  ['a city of only refused characters', { city: '#!*' }, 'address.city'],
];

describe('an address the network cannot take', () => {
  it.each(REFUSED)('%s is refused on PUT and on PATCH, naming the field', async (_, change, field) => {
    const before = await dumpRecords(api.db);
    const put = await api.call('PUT', '/v1/entities/nr-new', {
      json: entityBody({ address: { ...address, ...change } }),
    });
    expect(put.status, put.text).toBe(400);
    expect(errorOf(put)).toMatchObject({ code: 'VALIDATION_FAILED', fields: [field] });
    const patch = await api.call('PATCH', '/v1/entities/nr-e', {
      json: { address: { ...address, ...change } },
    });
    expect(patch.status, patch.text).toBe(400);
    expect(errorOf(patch)).toMatchObject({ code: 'VALIDATION_FAILED', fields: [field] });
    expect(await dumpRecords(api.db)).toBe(before);
  });
});

describe('nameOnCard', () => {
  it('takes 1 to 120 characters, as the network does', async () => {
    const ok = await api.call('PUT', '/v1/entities/nr-e/kits/nr-k2', {
      json: kitBody({ nameOnCard: 'N'.repeat(120) }),
    });
    expect(ok.status, ok.text).toBe(201);
    const long = await api.call('PUT', '/v1/entities/nr-e/kits/nr-k3', {
      json: kitBody({ nameOnCard: 'N'.repeat(121) }),
    });
    expect(long.status).toBe(400);
    expect(errorOf(long).fields).toEqual(['nameOnCard']);
  });
});

describe('an address that can be cleaned', () => {
  it('is stored as written; the operation sends it cleaned and says what was cleaned', async () => {
    const written = { ...address, line1: `Villa #12 & ${words(8)}`, line2: 'Gate: 3', city: 'Dubai!' };
    const put = await api.call('PUT', '/v1/entities/nr-clean', { json: entityBody({ address: written }) });
    expect(put.status, put.text).toBe(201);
    expect((put.body as { address: unknown }).address).toEqual(written);
    expect((await api.call('PUT', '/v1/entities/nr-clean/kits/nr-ck', { json: kitBody() })).status).toBe(201);

    const accepted = await api.call('POST', '/v1/ctp/entities/nr-clean/registration', {
      json: { kitNo: 'nr-ck' },
    });
    expect(accepted.status, accepted.text).toBe(202);
    const operationId = String((accepted.body as { operationId: string }).operationId);
    const view = await api.call('GET', `/v1/ctp/operations/${operationId}`);
    expect(view.status).toBe(200);
    const adjustments = (view.body as { adjustments?: { field: string; message: string }[] }).adjustments;
    expect(adjustments?.map((a) => a.field)).toEqual([
      'address.line1',
      'address.line2',
      'address.city',
      'address.line1',
      'address.line2',
    ]);
    expect(adjustments?.[3]?.message).toMatch(
      /wrapped at word boundaries into billingAddress\.line1, billingAddress\.line2/,
    );

    const stored = await api.db.orm.em.fork().findOneOrFail(CtpOperation, { id: operationId });
    const instrument = stored.requestBody?.body.paymentInstrument as
      | { billingAddress: Record<string, string> }
      | undefined;
    const sent = instrument?.billingAddress;
    expect(sent).toEqual({
      line1: `Villa 12 + ${words(5)}`,
      line2: words(8).slice(50),
      line3: 'Gate 3',
      city: 'Dubai',
      postalCode: address.postalCode,
      countryCode: address.countryCode,
    });
  });

  it('records no adjustment when nothing needed cleaning', async () => {
    const accepted = await api.call('POST', '/v1/ctp/entities/nr-e/registration', {
      json: { kitNo: 'nr-k' },
    });
    expect(accepted.status, accepted.text).toBe(202);
    const view = await api.call(
      'GET',
      `/v1/ctp/operations/${(accepted.body as { operationId: string }).operationId}`,
    );
    expect(view.body).not.toHaveProperty('adjustments');
  });
});

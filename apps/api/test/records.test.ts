import { BusinessEntity, CtpCustomer, CtpPayment, Kit } from '@ctp/core/entities';
import type { EntityChange } from '@ctp/core/records';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO,
  dumpRecords,
  ENBD,
  entityBody,
  errorOf,
  kitBody,
  MASTERCARD,
  startTestApi,
  type TestApi,
  VISA,
} from './helpers.ts';

let api: TestApi;
const changes: EntityChange[] = [];
let failNextChange = false;

beforeAll(async () => {
  api = await startTestApi({
    onEntityChanged: async (_tx, change) => {
      changes.push(change);
      if (failNextChange) {
        failNextChange = false;
        throw new Error('hook failed');
      }
    },
  });
});

afterAll(async () => {
  await api?.close();
});

describe('entities', () => {
  it('are created (201), read back, and replaced (200) with every field', async () => {
    const created = await api.call('PUT', '/v1/entities/ent-1', {
      json: entityBody({ consent: { accepted: true, version: 'v3', acceptedAt: '2026-01-02T03:04:05Z' } }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/entities/ent-1');
    expect(created.body).toMatchObject({
      entityId: 'ent-1',
      firstName: 'Aisha',
      phone: { countryCode: '971', number: '501234567' },
      consent: { accepted: true, version: 'v3' },
      ctpEntityStatus: 'UNREGISTERED',
      clickToPayCustomerId: null,
      kits: [],
    });

    const read = await api.call('GET', '/v1/entities/ent-1');
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const replaced = await api.call('PUT', '/v1/entities/ent-1', {
      json: entityBody({
        lastName: 'Rahman',
        address: { line1: '2 Marina', city: 'Dubai', postalCode: '1', countryCode: 'AE' },
      }),
    });
    expect(replaced.status).toBe(200);
    // Replace means replace: the consent the new body does not carry is gone.
    expect(replaced.body).toMatchObject({
      lastName: 'Rahman',
      consent: null,
      address: { line1: '2 Marina' },
    });
    expect((await api.call('GET', '/v1/entities/ent-1')).body).toEqual(replaced.body);
  });

  it('are patched field by field, nested objects replaced whole', async () => {
    await api.call('PUT', '/v1/entities/ent-2', {
      json: entityBody({
        address: { line1: 'A', line2: 'B', city: 'Dubai', postalCode: '1', countryCode: 'AE' },
      }),
    });
    const patched = await api.call('PATCH', '/v1/entities/ent-2', {
      json: {
        email: 'new@example.com',
        address: { line1: 'C', city: 'Abu Dhabi', postalCode: '2', countryCode: 'AE' },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ email: 'new@example.com', firstName: 'Aisha', lastName: 'Khan' });
    expect((patched.body as { address: unknown }).address).toEqual({
      line1: 'C',
      city: 'Abu Dhabi',
      postalCode: '2',
      countryCode: 'AE',
    });
    const consent = { accepted: true, version: '1', acceptedAt: '2026-01-02T03:04:05+04:00' };
    expect((await api.call('PATCH', '/v1/entities/ent-2', { json: { consent } })).body).toMatchObject({
      consent,
    });
    expect((await api.call('PATCH', '/v1/entities/ent-2', { json: { consent: null } })).body).toMatchObject({
      consent: null,
    });
  });

  it('tell the change hook which fields changed, inside the transaction', async () => {
    changes.length = 0;
    await api.call('PUT', '/v1/entities/ent-3', { json: entityBody() });
    await api.call('PUT', '/v1/entities/ent-3', { json: entityBody() });
    await api.call('PATCH', '/v1/entities/ent-3', {
      json: { phone: { countryCode: '971', number: '509999999' }, locale: 'ar_AE' },
    });
    expect(changes.map(({ created, changed }) => ({ created, changed: [...changed].sort() }))).toEqual([
      { created: true, changed: expect.arrayContaining(['firstName', 'address', 'phone']) },
      { created: false, changed: [] },
      { created: false, changed: ['locale', 'phone'] },
    ]);

    // A hook that fails rolls the change back with it: nothing half-done is committed.
    const before = await dumpRecords(api.db);
    failNextChange = true;
    const failed = await api.call('PATCH', '/v1/entities/ent-3', { json: { firstName: 'Zed' } });
    expect(failed.status).toBe(500);
    expect(errorOf(failed)).toEqual({ code: 'INTERNAL', message: 'internal error', fields: [] });
    expect(failed.text).not.toContain('hook failed');
    expect(await dumpRecords(api.db)).toBe(before);
    expect(api.logLines.some((line) => line.includes('hook failed') && line.includes('"requestId"'))).toBe(
      true,
    );
  });

  it('show the CTP status and ids the lifecycle wrote, and UNREGISTERED for kits without one', async () => {
    await api.call('PUT', '/v1/entities/ent-4', { json: entityBody() });
    await api.call('PUT', '/v1/entities/ent-4/kits/kit-4a', { json: kitBody() });
    await api.call('PUT', '/v1/entities/ent-4/kits/kit-4b', { json: kitBody({ pan: MASTERCARD }) });
    // What the lifecycle code would have written (not this api's to write).
    const em = api.db.orm.em.fork();
    const entity = await em.findOneOrFail(BusinessEntity, { tenant: ENBD, entityId: 'ent-4' });
    const kit = await em.findOneOrFail(Kit, { tenant: ENBD, kitNo: 'kit-4a' });
    const customer = em.create(CtpCustomer, {
      tenant: ENBD,
      entityId: 'ent-4',
      businessEntity: entity,
      ctpEntityStatus: 'ACTIVE',
      clickToPayCustomerId: 'ctp-cust-4',
    });
    em.create(CtpPayment, {
      tenant: ENBD,
      ctpCustomer: customer,
      kit,
      ctpKitStatus: 'ACTIVE',
      clickToPayPaymentInstumentId: 'ctp-pi-4a',
    });
    await em.flush();

    const read = await api.call('GET', '/v1/entities/ent-4');
    expect(read.body).toMatchObject({
      ctpEntityStatus: 'ACTIVE',
      clickToPayCustomerId: 'ctp-cust-4',
      kits: [
        {
          kitNo: 'kit-4a',
          pan: '411111******1111',
          ctpKitStatus: 'ACTIVE',
          clickToPayPaymentInstrumentId: 'ctp-pi-4a',
        },
        {
          kitNo: 'kit-4b',
          pan: '555555******4444',
          ctpKitStatus: 'UNREGISTERED',
          clickToPayPaymentInstrumentId: null,
        },
      ],
    });
    expect((await api.call('GET', '/v1/entities/ent-4/kits/kit-4a')).body).toMatchObject({
      ctpKitStatus: 'ACTIVE',
      clickToPayPaymentInstrumentId: 'ctp-pi-4a',
    });
  });
});

describe('kits', () => {
  it('are created (201) and replaced (200), answered masked, stored encrypted and bound to their row', async () => {
    await api.call('PUT', '/v1/entities/ent-5', { json: entityBody() });
    const created = await api.call('PUT', '/v1/entities/ent-5/kits/kit-5', { json: kitBody() });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/entities/ent-5/kits/kit-5');
    expect(created.body).toMatchObject({
      entityId: 'ent-5',
      kitNo: 'kit-5',
      pan: '411111******1111',
      expiry: { month: '12', year: '2099' },
      nameOnCard: 'AISHA KHAN',
      ctpKitStatus: 'UNREGISTERED',
      clickToPayPaymentInstrumentId: null,
    });
    expect((await api.call('GET', '/v1/entities/ent-5/kits/kit-5')).body).toEqual(created.body);

    const replaced = await api.call('PUT', '/v1/entities/ent-5/kits/kit-5', {
      json: kitBody({ pan: MASTERCARD, expiry: { month: '01', year: '2031' } }),
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ pan: '555555******4444', expiry: { month: '01', year: '2031' } });
    expect((await api.call('GET', '/v1/entities/ent-5')).body).toMatchObject({
      kits: [{ kitNo: 'kit-5', pan: '555555******4444' }],
    });

    const kit = await api.db.orm.em.fork().findOneOrFail(Kit, { tenant: ENBD, kitNo: 'kit-5' });
    expect(kit.panCiphertext).not.toContain(MASTERCARD);
    expect(kit.panKeyId).toBe(api.panCipher.currentKeyId);
    expect(
      api.panCipher.decrypt(
        { ciphertext: kit.panCiphertext, keyId: kit.panKeyId },
        { tenant: ENBD, kitNo: 'kit-5' },
      ),
    ).toBe(MASTERCARD);
    expect(() =>
      api.panCipher.decrypt(
        { ciphertext: kit.panCiphertext, keyId: kit.panKeyId },
        { tenant: DEMO, kitNo: 'kit-5' },
      ),
    ).toThrow();
    const rows = await api.db.orm.em.getConnection().execute('select * from kit');
    expect(JSON.stringify(rows)).not.toContain(MASTERCARD);
    expect(JSON.stringify(rows)).not.toContain(VISA);
  });

  it('need their entity, and a kitNo of another entity of the tenant answers 404', async () => {
    const orphan = await api.call('PUT', '/v1/entities/nobody/kits/kit-x', { json: kitBody() });
    expect(orphan.status).toBe(404);
    expect(errorOf(orphan).code).toBe('NOT_FOUND');

    await api.call('PUT', '/v1/entities/ent-6', { json: entityBody() });
    await api.call('PUT', '/v1/entities/ent-7', { json: entityBody() });
    await api.call('PUT', '/v1/entities/ent-6/kits/kit-6', { json: kitBody() });
    const before = await dumpRecords(api.db);
    for (const [method, options] of [
      ['PUT', { json: kitBody({ pan: MASTERCARD }) }],
      ['GET', {}],
    ] as const) {
      const answer = await api.call(method, '/v1/entities/ent-7/kits/kit-6', options);
      expect(answer.status).toBe(404);
      expect(errorOf(answer).code).toBe('NOT_FOUND');
    }
    expect(await dumpRecords(api.db)).toBe(before);
    expect((await api.call('GET', '/v1/entities/ent-6/kits/kit-6')).body).toMatchObject({
      pan: '411111******1111',
    });
  });

  it('answer 404 for an unknown entity or kit', async () => {
    for (const path of [
      '/v1/entities/nobody',
      '/v1/entities/nobody/kits/k',
      '/v1/entities/ent-6/kits/none',
    ]) {
      const answer = await api.call('GET', path);
      expect(answer.status).toBe(404);
      expect(errorOf(answer).code).toBe('NOT_FOUND');
    }
    expect((await api.call('PATCH', '/v1/entities/nobody', { json: { firstName: 'X' } })).status).toBe(404);
  });
});

describe('concurrent writers', () => {
  it('creating the same entity at once get one 201, the rest 200, and one row', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api.call('PUT', '/v1/entities/ent-race', { json: entityBody({ firstName: `N${i}` }) }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    const rows = await api.db.orm.em
      .getConnection()
      .execute("select * from business_entity where entity_id = 'ent-race'");
    expect(rows).toHaveLength(1);
  });
});

describe('card data', () => {
  it('never appears in an answer or a log line', () => {
    expect(api.answers.length).toBeGreaterThan(20);
    expect(api.logLines.length).toBeGreaterThan(20);
    expect(api.leakedPans()).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
import { CtpOperation } from '@ctp/core/entities';
import { TEST_API_KEY } from '@ctp/saas-sim/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// The card network's data rules (ctp-saas.md, "Network data rules (v2)") end to end, over the
// real simulator, which enforces them: an address our API takes as written is sent cleaned, the
// network accepts it, and the operation says what was cleaned.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});
afterAll(async () => {
  await p.close();
});

/** Eight words of ten characters: 87, too long for one network line of 64. */
const LONG_LINE = Array.from({ length: 8 }, (_, i) => `Boulevard${i}`).join(' ');
const address = {
  line1: `Villa #12 & ${LONG_LINE}`,
  line2: 'Gate: 3 [east]',
  city: 'Dubai!',
  postalCode: '00000',
  countryCode: 'AE',
};

async function customer(entityId: string, kitNo: string) {
  const entity = await p.call('PUT', `/v1/entities/${entityId}`, {
    firstName: 'Aisha',
    lastName: 'Khan',
    email: `${entityId}@example.com`,
    phone: { countryCode: '971', number: '501234567' },
    address,
    locale: 'en_AE',
    countryCode: 'AE',
  });
  expect(entity.status, JSON.stringify(entity.body)).toBe(201);
  const kit = await p.call('PUT', `/v1/entities/${entityId}/kits/${kitNo}`, {
    pan: '4111111111111111',
    expiry: { month: '12', year: '2030' },
    nameOnCard: 'AISHA KHAN',
  });
  expect(kit.status, JSON.stringify(kit.body)).toBe(201);
}

describe('the network data rules', () => {
  it('the simulator refuses the address as written, naming the fields', async () => {
    const answer = await fetch(`${p.sim.url}/addCustomerAndPaymentInstrument`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        'x-tenant-id': TENANT,
        'x-request-id': randomUUID(),
        'idempotency-key': randomUUID(),
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        consumer: {
          externalConsumerId: 'nr-raw',
          firstName: 'Aisha',
          lastName: 'Khan',
          emails: ['nr-raw@example.com'],
          phones: [{ countryCode: '971', number: '501234567' }],
          locale: 'en_AE',
          countryCode: 'AE',
        },
        paymentInstrument: {
          externalInstrumentId: 'nr-raw-k',
          accountNumber: '4111111111111111',
          expirationDate: { month: '12', year: '2030' },
          nameOnCard: 'AISHA KHAN',
          billingAddress: address,
        },
      }),
    });
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as { error: { code: string; details: { field: string }[] } };
    expect(body.error.code).toBe('INVALID_REQUEST');
    expect(new Set(body.error.details.map((d) => d.field))).toEqual(
      new Set([
        'paymentInstrument.billingAddress.line1',
        'paymentInstrument.billingAddress.line2',
        'paymentInstrument.billingAddress.city',
      ]),
    );
  });

  it('an operation sends it cleaned, the network takes it, and the operation says what was cleaned', async () => {
    await customer('nr-e', 'nr-k');
    const accepted = await p.call('POST', '/v1/ctp/entities/nr-e/registration', { kitNo: 'nr-k' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const operation = await p.settled(String(accepted.body.operationId));
    expect(operation).toMatchObject({ status: 'SUCCESS' });
    expect((operation.adjustments as { field: string }[]).map((a) => a.field).sort()).toEqual(
      ['address.city', 'address.line1', 'address.line1', 'address.line2', 'address.line2'].sort(),
    );

    const enrolled = p.sim.simulator
      .state()
      .tenants[TENANT]?.consumers.find((c) => c.externalConsumerId === 'nr-e');
    const sent = enrolled?.paymentInstruments[0]?.billingAddress;
    expect(sent).toEqual({
      line1: `Villa 12 + ${LONG_LINE.slice(0, 43)}`,
      line2: LONG_LINE.slice(44),
      line3: 'Gate 3 (east)',
      city: 'Dubai',
      postalCode: '00000',
      countryCode: 'AE',
    });
    // Our record keeps what the client wrote.
    expect((await p.call('GET', '/v1/entities/nr-e')).body).toMatchObject({ address });

    // A later address change reaches the network by the automatic CTP_UPDATE_KIT, cleaned too.
    const moved = { ...address, line1: 'Tower "B"; Floor 3', line2: undefined, city: 'Abu Dhabi' };
    expect((await p.call('PATCH', '/v1/entities/nr-e', { address: moved })).status).toBe(200);
    const update = await until(
      async () =>
        (
          await p.db.orm.em
            .fork()
            .find(CtpOperation, { tenant: TENANT, entityId: 'nr-e', event: 'CTP_UPDATE_KIT' })
        )[0],
    );
    expect(await p.settled(update.id)).toMatchObject({
      status: 'SUCCESS',
      adjustments: [{ field: 'address.line1', message: expect.stringContaining('replaced') }],
    });
    expect(
      p.sim.simulator.state().tenants[TENANT]?.consumers.find((c) => c.externalConsumerId === 'nr-e')
        ?.paymentInstruments[0]?.billingAddress,
    ).toEqual({ line1: "Tower 'B', Floor 3", city: 'Abu Dhabi', postalCode: '00000', countryCode: 'AE' });
  });
});

async function until<T>(find: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

import { networkDataSchema, saasErrorBodySchema, traceResultSchema } from '@ctp/core/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/testing.ts';
import {
  accepted,
  admin,
  consumer,
  enrolled,
  OTHER_PAN,
  paymentInstrument,
  registration,
  type SaasClient,
  saasClient,
  settled,
} from './helpers.ts';

let sim: RunningSimulator;
let client: SaasClient;
beforeAll(async () => {
  // Long enough that the checks of a running trace finish before it completes, even on a busy machine.
  sim = await startSimulator({ completionDelayMs: 400 });
  client = saasClient(sim.url);
});
afterAll(() => sim.close());

async function network(externalConsumerId: string) {
  const answer = await client.getData(externalConsumerId);
  expect(answer.status, answer.text).toBe(200);
  return networkDataSchema.parse(answer.body);
}

describe('request traces', () => {
  it('go IN_PROGRESS, then SUCCESS once, and /getData changes only at completion', async () => {
    const { requestTraceId } = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-l1', 'k-l1')),
    );
    const running = traceResultSchema.parse((await client.status(requestTraceId)).body);
    expect(running).toMatchObject({
      requestTraceId,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      status: 'IN_PROGRESS',
      externalConsumerId: 'c-l1',
      externalInstrumentId: 'k-l1',
    });
    expect(running.clickToPayCustomerId).toBeUndefined();
    expect((await client.getData('c-l1')).status).toBe(404);

    const done = await settled(client, requestTraceId);
    expect(done.status).toBe('SUCCESS');
    expect(done.error).toBeUndefined();
    expect(Date.parse(done.updatedAt)).toBeGreaterThanOrEqual(Date.parse(running.updatedAt));

    const held = await network('c-l1');
    expect(held).toEqual({
      clickToPayCustomerId: done.clickToPayCustomerId,
      externalConsumerId: 'c-l1',
      status: 'ACTIVE',
      consumer: {
        firstName: 'Aisha',
        lastName: 'Khan',
        emails: ['aisha@example.com'],
        phones: [{ countryCode: '971', number: '501234567' }],
        locale: 'en_AE',
        countryCode: 'AE',
      },
      paymentInstruments: [
        {
          clickToPayPaymentInstrumentId: done.clickToPayPaymentInstrumentId,
          externalInstrumentId: 'k-l1',
          panLastFour: '1111',
          expirationDate: { month: '12', year: '2029' },
          status: 'ACTIVE',
        },
      ],
    });
    // Terminal means terminal: later reads say the same.
    expect((await client.status(requestTraceId)).body).toEqual(done);
  });

  it('end FAILED with REQUEST_REJECTED under rejectionRate=1, and the network is unchanged', async () => {
    await admin(sim, 'POST', '/__sim/faults', { rejectionRate: 1 });
    try {
      const { requestTraceId } = accepted(
        await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-l2', 'k-l2')),
      );
      const done = await settled(client, requestTraceId);
      expect(done).toMatchObject({
        status: 'FAILED',
        error: { code: 'REQUEST_REJECTED', message: 'Request Rejected', details: expect.any(String) },
      });
      expect(done.clickToPayCustomerId).toBeUndefined();
      expect((await client.getData('c-l2')).status).toBe(404);
    } finally {
      await admin(sim, 'POST', '/__sim/faults', { rejectionRate: 0 });
    }
  });

  it('answer 404 REQUEST_NOT_FOUND for an unknown id and for another tenant’s trace', async () => {
    const unknown = await client.status('00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(saasErrorBodySchema.parse(unknown.body).error.code).toBe('REQUEST_NOT_FOUND');

    const { requestTraceId } = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-l3', 'k-l3')),
    );
    const foreign = await saasClient(sim.url, 'DEMOBANK').status(requestTraceId);
    expect(foreign.status).toBe(404);
    await settled(client, requestTraceId);
  });
});

describe('/getData follows every operation', () => {
  it('add kit, update kit, update customer, remove kit, remove customer', async () => {
    const ids = await enrolled(client, 'c-l4', 'k-l4a');
    const base = { externalConsumerId: 'c-l4', clickToPayCustomerId: ids.clickToPayCustomerId };

    const add = await settled(
      client,
      accepted(
        await client.send('CTP_ADD_KIT', {
          ...base,
          paymentInstrument: paymentInstrument('k-l4b', OTHER_PAN),
        }),
      ).requestTraceId,
    );
    expect(add).toMatchObject({ status: 'SUCCESS', event: 'CTP_ADD_KIT', externalInstrumentId: 'k-l4b' });
    expect(add.clickToPayCustomerId).toBe(ids.clickToPayCustomerId);
    const kitB = add.clickToPayPaymentInstrumentId;
    if (kitB === undefined) throw new Error('add kit names the new instrument');
    expect(
      (await network('c-l4')).paymentInstruments.map((i) => [i.externalInstrumentId, i.panLastFour]),
    ).toEqual([
      ['k-l4a', '1111'],
      ['k-l4b', '4444'],
    ]);

    const renewed = {
      ...paymentInstrument('k-l4b', OTHER_PAN),
      expirationDate: { month: '01', year: '2032' },
    };
    const updateKit = await settled(
      client,
      accepted(
        await client.send('CTP_UPDATE_KIT', {
          ...base,
          clickToPayPaymentInstrumentId: kitB,
          paymentInstrument: renewed,
        }),
      ).requestTraceId,
    );
    expect(updateKit).toMatchObject({ status: 'SUCCESS', clickToPayPaymentInstrumentId: kitB });
    expect((await network('c-l4')).paymentInstruments[1]?.expirationDate).toEqual({
      month: '01',
      year: '2032',
    });

    await settled(
      client,
      accepted(await client.send('CTP_UPDATE_ENTITY', { ...base, consumer: consumer('c-l4', 'Aysha') }))
        .requestTraceId,
    );
    expect((await network('c-l4')).consumer.firstName).toBe('Aysha');

    const removeKit = await settled(
      client,
      accepted(
        await client.send('CTP_REMOVE_KIT', {
          ...base,
          clickToPayPaymentInstrumentId: ids.clickToPayPaymentInstrumentId,
          externalInstrumentId: 'k-l4a',
          reason: 'card lost',
        }),
      ).requestTraceId,
    );
    expect(removeKit).toMatchObject({ status: 'SUCCESS', externalInstrumentId: 'k-l4a' });
    expect((await network('c-l4')).paymentInstruments.map((i) => i.status)).toEqual(['REMOVED', 'ACTIVE']);

    const removeCustomer = await settled(
      client,
      accepted(await client.send('CTP_REMOVE_ENTITY', base)).requestTraceId,
    );
    expect(removeCustomer.externalInstrumentId).toBeUndefined();
    const removed = await network('c-l4');
    expect(removed.status).toBe('REMOVED');
    expect(removed.paymentInstruments.map((i) => i.status)).toEqual(['REMOVED', 'REMOVED']);
  });

  it('a REMOVED consumer can enrol again, under fresh network ids', async () => {
    const first = await enrolled(client, 'c-l5', 'k-l5');
    await settled(
      client,
      accepted(
        await client.send('CTP_REMOVE_ENTITY', {
          externalConsumerId: 'c-l5',
          clickToPayCustomerId: first.clickToPayCustomerId,
        }),
      ).requestTraceId,
    );
    const second = await enrolled(client, 'c-l5', 'k-l5');
    expect(second.clickToPayCustomerId).not.toBe(first.clickToPayCustomerId);
    expect(second.clickToPayPaymentInstrumentId).not.toBe(first.clickToPayPaymentInstrumentId);
    expect((await network('c-l5')).status).toBe('ACTIVE');
  });
});

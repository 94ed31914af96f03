import { saasErrorBodySchema } from '@ctp/core/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/testing.ts';
import {
  type Answer,
  accepted,
  admin,
  consumer,
  enrolled,
  paymentInstrument,
  registration,
  type SaasClient,
  saasClient,
  settled,
} from './helpers.ts';

let sim: RunningSimulator;
let client: SaasClient;
beforeAll(async () => {
  sim = await startSimulator({ completionDelayMs: 40 });
  client = saasClient(sim.url);
});
afterAll(() => sim.close());

function refused(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).toBe(status);
  expect(saasErrorBodySchema.parse(answer.body).error.code).toBe(code);
}

describe('404: ids that do not resolve', () => {
  it('CONSUMER_NOT_FOUND for an unknown consumer and for a clickToPayCustomerId that is not its own', async () => {
    refused(await client.getData('nobody'), 404, 'CONSUMER_NOT_FOUND');
    refused(
      await client.send('CTP_REMOVE_ENTITY', { externalConsumerId: 'nobody', clickToPayCustomerId: 'x' }),
      404,
      'CONSUMER_NOT_FOUND',
    );
    await enrolled(client, 'c-n1', 'k-n1');
    refused(
      await client.send('CTP_ADD_KIT', {
        externalConsumerId: 'c-n1',
        clickToPayCustomerId: 'not-its-id',
        paymentInstrument: paymentInstrument('k-n1b'),
      }),
      404,
      'CONSUMER_NOT_FOUND',
    );
  });

  it('PAYMENT_INSTRUMENT_NOT_FOUND for an unknown kit or a mismatched clickToPayPaymentInstrumentId', async () => {
    const ids = await enrolled(client, 'c-n2', 'k-n2');
    const base = { externalConsumerId: 'c-n2', clickToPayCustomerId: ids.clickToPayCustomerId };
    refused(
      await client.send('CTP_REMOVE_KIT', {
        ...base,
        clickToPayPaymentInstrumentId: ids.clickToPayPaymentInstrumentId,
        externalInstrumentId: 'no-such-kit',
      }),
      404,
      'PAYMENT_INSTRUMENT_NOT_FOUND',
    );
    refused(
      await client.send('CTP_UPDATE_KIT', {
        ...base,
        clickToPayPaymentInstrumentId: 'not-its-id',
        paymentInstrument: paymentInstrument('k-n2'),
      }),
      404,
      'PAYMENT_INSTRUMENT_NOT_FOUND',
    );
  });
});

describe('409 CONFLICT: where the network refuses', () => {
  it('a consumer already enrolled, ACTIVE or DISABLED', async () => {
    await enrolled(client, 'c-n3', 'k-n3');
    refused(await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-n3', 'k-n3')), 409, 'CONFLICT');
    await admin(sim, 'POST', '/__sim/network/consumers/ENBDTABBY/c-n3', { status: 'DISABLED' });
    refused(await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-n3', 'k-n3')), 409, 'CONFLICT');
  });

  it('an instrument already ACTIVE on add', async () => {
    const ids = await enrolled(client, 'c-n4', 'k-n4');
    refused(
      await client.send('CTP_ADD_KIT', {
        externalConsumerId: 'c-n4',
        clickToPayCustomerId: ids.clickToPayCustomerId,
        paymentInstrument: paymentInstrument('k-n4'),
      }),
      409,
      'CONFLICT',
    );
  });

  it('any operation while another on the same consumer is in progress', async () => {
    const first = accepted(await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-n5', 'k-n5')));
    // A different key: not a retry, a second operation.
    refused(await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-n5', 'k-n5')), 409, 'CONFLICT');
    const done = await settled(client, first.requestTraceId);

    const base = { externalConsumerId: 'c-n5', clickToPayCustomerId: done.clickToPayCustomerId ?? '' };
    accepted(await client.send('CTP_UPDATE_ENTITY', { ...base, consumer: consumer('c-n5', 'Sara') }));
    const busy = await client.send('CTP_REMOVE_ENTITY', base);
    refused(busy, 409, 'CONFLICT');
    expect(saasErrorBodySchema.parse(busy.body).error.message).toMatch(/in progress/);
  });

  it('updates of a DISABLED consumer, and removal of what is already REMOVED', async () => {
    const ids = await enrolled(client, 'c-n6', 'k-n6');
    const base = { externalConsumerId: 'c-n6', clickToPayCustomerId: ids.clickToPayCustomerId };
    await admin(sim, 'POST', '/__sim/network/consumers/ENBDTABBY/c-n6', { status: 'DISABLED' });
    refused(await client.send('CTP_UPDATE_ENTITY', { ...base, consumer: consumer('c-n6') }), 409, 'CONFLICT');

    await settled(client, accepted(await client.send('CTP_REMOVE_ENTITY', base)).requestTraceId);
    refused(await client.send('CTP_REMOVE_ENTITY', base), 409, 'CONFLICT');
  });
});

describe('a change by the network while a request runs', () => {
  it('makes the request end FAILED with REQUEST_REJECTED instead of acting on stale state', async () => {
    const ids = await enrolled(client, 'c-n7', 'k-n7');
    const { requestTraceId } = accepted(
      await client.send('CTP_UPDATE_ENTITY', {
        externalConsumerId: 'c-n7',
        clickToPayCustomerId: ids.clickToPayCustomerId,
        consumer: consumer('c-n7', 'Changed'),
      }),
    );
    await admin(sim, 'POST', '/__sim/network/consumers/ENBDTABBY/c-n7', { status: 'REMOVED' });
    const done = await settled(client, requestTraceId);
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'REQUEST_REJECTED' } });
    expect(done.error?.details).toMatch(/REMOVED/);
  });
});

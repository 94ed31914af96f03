import { traceResultSchema, webhookBodySchema } from '@ctp/core/contracts';
import { verifyWebhook } from '@ctp/core/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type RunningSimulator,
  type SimulatorOptions,
  type SimulatorState,
  seededRandom,
  startSimulator,
  TEST_WEBHOOK_SECRET,
} from '../src/testing.ts';
import { accepted, admin, enrolled, registration, saasClient, settled, startReceiver } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

async function setup(
  answer?: Parameters<typeof startReceiver>[0],
  options: Partial<SimulatorOptions> = {},
): Promise<{ receiver: Receiver; sim: RunningSimulator }> {
  const receiver = await startReceiver(answer);
  cleanups.push(() => receiver.close());
  const sim = await startSimulator({ webhookUrl: receiver.url, ...options });
  cleanups.push(() => sim.close());
  return { receiver, sim };
}

async function counters(sim: RunningSimulator) {
  return ((await admin(sim, 'GET', '/__sim/state')).body as SimulatorState).counters.webhooks;
}

describe('request.completed', () => {
  it('arrives signed (Standard Webhooks) with the same data as /status', async () => {
    const { receiver, sim } = await setup();
    const client = saasClient(sim.url);
    const { requestTraceId } = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w1', 'k-w1')),
    );
    const [delivery] = await receiver.waitFor(1);
    if (delivery === undefined) throw new Error('no delivery');

    const verified = verifyWebhook(TEST_WEBHOOK_SECRET, delivery.headers, delivery.raw);
    expect(verified.ok).toBe(true);
    expect(verifyWebhook(TEST_WEBHOOK_SECRET, delivery.headers, `${delivery.raw} `).ok).toBe(false);
    expect(delivery.headers['content-type']).toBe('application/json');

    const body = webhookBodySchema.parse(delivery.body);
    expect(body.type).toBe('request.completed');
    expect(body.tenant).toBe('ENBDTABBY');
    const status = traceResultSchema.parse((await client.status(requestTraceId)).body);
    expect(body.data).toEqual(status);
    expect(status.status).toBe('SUCCESS');
  });

  it('is redelivered with the same webhook-id after a 500', async () => {
    const { receiver, sim } = await setup((n) => (n === 1 ? 500 : 204));
    accepted(await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w2', 'k-w2')));
    const [first, second] = await receiver.waitFor(2);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.raw).toBe(first?.raw);
    for (const delivery of [first, second]) {
      if (delivery === undefined) throw new Error('missing delivery');
      expect(verifyWebhook(TEST_WEBHOOK_SECRET, delivery.headers, delivery.raw).ok).toBe(true);
    }
    await sim.simulator.idle();
    expect(await counters(sim)).toMatchObject({ attempted: 2, succeeded: 1, failed: 1, exhausted: 0 });
  });

  it('is redelivered when the receiver does not answer in time', async () => {
    const { receiver, sim } = await setup(
      async (n) => {
        if (n === 1) await new Promise((resolve) => setTimeout(resolve, 400));
        return 204 as const;
      },
      { webhookTimeoutMs: 100 },
    );
    accepted(await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w3', 'k-w3')));
    const [first, second] = await receiver.waitFor(2);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
  });

  it('is abandoned, not redelivered, when a reset aborts its attempt in flight', async () => {
    const { receiver, sim } = await setup(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return 204 as const;
      },
      { webhookTimeoutMs: 5_000, redeliveryDelaysMs: [10] },
    );
    accepted(await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w5', 'k-w5')));
    await receiver.waitFor(1);
    expect((await admin(sim, 'GET', '/__sim/state')).body).toMatchObject({ pendingWebhooks: 1 });
    await admin(sim, 'POST', '/__sim/reset');
    // Aborted at once (not after the receiver's second or the attempt's timeout), and no retry.
    await sim.simulator.idle(500);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(receiver.deliveries).toHaveLength(1);
    expect((await admin(sim, 'GET', '/__sim/state')).body).toMatchObject({ pendingWebhooks: 0 });
  });

  it('is given up, and counted, after the last redelivery', async () => {
    const { receiver, sim } = await setup(() => 503, { redeliveryDelaysMs: [10, 10] });
    accepted(await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w4', 'k-w4')));
    await receiver.waitFor(3);
    await sim.simulator.idle();
    expect(receiver.deliveries).toHaveLength(3);
    expect(await counters(sim)).toMatchObject({ attempted: 3, failed: 3, exhausted: 1 });
  });
});

describe('webhook faults', () => {
  it('webhookDuplicateRate delivers a message twice under one webhook-id', async () => {
    const { receiver, sim } = await setup(undefined, { faults: { webhookDuplicateRate: 1 } });
    accepted(await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w5', 'k-w5')));
    const [a, b] = await receiver.waitFor(2);
    expect(a?.headers['webhook-id']).toBe(b?.headers['webhook-id']);
    expect(a?.raw).toBe(b?.raw);
    expect(await counters(sim)).toMatchObject({ duplicated: 1, succeeded: 2 });
  });

  it('webhookDropRate never delivers, and polling still resolves the trace', async () => {
    const { receiver, sim } = await setup(undefined, { faults: { webhookDropRate: 1 } });
    const client = saasClient(sim.url);
    const { requestTraceId } = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w6', 'k-w6')),
    );
    expect((await settled(client, requestTraceId)).status).toBe('SUCCESS');
    await sim.simulator.idle();
    expect(receiver.deliveries).toEqual([]);
    expect(await counters(sim)).toMatchObject({ dropped: 1, attempted: 0 });
  });

  it('webhookBeforeAcceptRate completes the trace and delivers before the 202 is sent', async () => {
    const { receiver, sim } = await setup(undefined, { faults: { webhookBeforeAcceptRate: 1 } });
    const client = saasClient(sim.url);
    const { requestTraceId } = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-w7', 'k-w7')),
    );
    // No waiting: by the time the 202 arrived, the webhook had been received.
    expect(receiver.deliveries).toHaveLength(1);
    const body = webhookBodySchema.parse(receiver.deliveries[0]?.body);
    expect(body.type === 'request.completed' && body.data.requestTraceId).toBe(requestTraceId);
    expect(traceResultSchema.parse((await client.status(requestTraceId)).body).status).toBe('SUCCESS');
  });

  it('webhookDelayMs lets later messages overtake earlier ones', async () => {
    const { receiver, sim } = await setup(undefined, {
      faults: { webhookDelayMs: { min: 0, max: 500 } },
      random: seededRandom(7),
    });
    const client = saasClient(sim.url);
    await enrolled(client, 'c-w8', 'k-w8');
    await receiver.waitFor(1);
    const statuses = ['DISABLED', 'ACTIVE', 'DISABLED', 'ACTIVE', 'DISABLED', 'ACTIVE'] as const;
    const sent: string[] = [];
    for (const status of statuses) {
      const answer = await admin(sim, 'POST', '/__sim/network/consumers/ENBDTABBY/c-w8', { status });
      sent.push((answer.body as { webhookId: string }).webhookId);
    }
    await receiver.waitFor(1 + statuses.length);
    const arrived = receiver.deliveries.slice(1).map((d) => d.headers['webhook-id']);
    expect([...arrived].sort()).toEqual([...sent].sort());
    expect(arrived).not.toEqual(sent);
  });
});

describe('network-driven changes', () => {
  it('disabling a consumer sends consumer.status_changed', async () => {
    const { receiver, sim } = await setup();
    const client = saasClient(sim.url);
    const ids = await enrolled(client, 'c-w9', 'k-w9');
    await receiver.waitFor(1);

    const answer = await admin(sim, 'POST', '/__sim/network/consumers/ENBDTABBY/c-w9', {
      status: 'DISABLED',
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      changed: true,
      webhookId: expect.any(String),
      consumer: { externalConsumerId: 'c-w9', status: 'DISABLED' },
    });
    const [, delivery] = await receiver.waitFor(2);
    if (delivery === undefined) throw new Error('no delivery');
    expect(verifyWebhook(TEST_WEBHOOK_SECRET, delivery.headers, delivery.raw).ok).toBe(true);
    expect(delivery.headers['webhook-id']).toBe((answer.body as { webhookId: string }).webhookId);
    expect(webhookBodySchema.parse(delivery.body)).toEqual({
      type: 'consumer.status_changed',
      tenant: 'ENBDTABBY',
      data: {
        externalConsumerId: 'c-w9',
        clickToPayCustomerId: ids.clickToPayCustomerId,
        status: 'DISABLED',
        occurredAt: expect.any(String),
      },
    });
    expect(((await client.getData('c-w9')).body as { status: string }).status).toBe('DISABLED');

    // The same status again changes nothing and sends nothing.
    const again = await admin(sim, 'POST', '/__sim/network/consumers/ENBDTABBY/c-w9', { status: 'DISABLED' });
    expect(again.body).toMatchObject({ changed: false, webhookId: null });
    await sim.simulator.idle();
    expect(receiver.deliveries).toHaveLength(2);
  });

  it('a card disabled by the network sends payment_instrument.status_changed', async () => {
    const { receiver, sim } = await setup();
    const ids = await enrolled(saasClient(sim.url), 'c-w10', 'k-w10');
    await receiver.waitFor(1);
    await admin(sim, 'POST', '/__sim/network/instruments/ENBDTABBY/c-w10/k-w10', { status: 'DISABLED' });
    const [, delivery] = await receiver.waitFor(2);
    expect(webhookBodySchema.parse(delivery?.body)).toEqual({
      type: 'payment_instrument.status_changed',
      tenant: 'ENBDTABBY',
      data: {
        externalConsumerId: 'c-w10',
        externalInstrumentId: 'k-w10',
        clickToPayPaymentInstrumentId: ids.clickToPayPaymentInstrumentId,
        status: 'DISABLED',
        occurredAt: expect.any(String),
      },
    });
  });

  it('refuses unknown records, bad statuses and reviving a REMOVED record', async () => {
    const { sim } = await setup();
    await enrolled(saasClient(sim.url), 'c-w11', 'k-w11');
    const route = '/__sim/network/consumers/ENBDTABBY';
    expect((await admin(sim, 'POST', `${route}/nobody`, { status: 'DISABLED' })).status).toBe(404);
    expect(
      (await admin(sim, 'POST', '/__sim/network/consumers/NOBANK/c-w11', { status: 'ACTIVE' })).status,
    ).toBe(404);
    expect(
      (await admin(sim, 'POST', '/__sim/network/instruments/ENBDTABBY/c-w11/nokit', { status: 'ACTIVE' }))
        .status,
    ).toBe(404);
    expect((await admin(sim, 'POST', `${route}/c-w11`, { status: 'PAUSED' })).status).toBe(400);
    expect((await admin(sim, 'POST', `${route}/c-w11`, { status: 'REMOVED' })).status).toBe(200);
    expect((await admin(sim, 'POST', `${route}/c-w11`, { status: 'ACTIVE' })).status).toBe(409);
  });
});

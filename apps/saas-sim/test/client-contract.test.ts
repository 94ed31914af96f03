import { randomUUID } from 'node:crypto';
import { createLogger } from '@ctp/core/logging';
import { startHttpServer } from '@ctp/core/runtime';
import { SaasClient, SaasError } from '@ctp/core/saas';
import { signWebhook, verifyWebhook } from '@ctp/core/webhooks';
import { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY, TEST_WEBHOOK_SECRET } from '../src/testing.ts';
import { registration } from './helpers.ts';

// The contract's error table and idempotency rules, reached through OUR client (packages/core/saas)
// against the simulator over real HTTP: both sides of the wire are checked against each other.

const T = 'ENBDTABBY';
let sim: RunningSimulator;
let client: SaasClient;
const deliveries: { headers: Record<string, string>; body: string }[] = [];
let receiver: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  const app = new Hono();
  app.post('/hooks', async (c) => {
    deliveries.push({ headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() });
    return c.body(null, 204);
  });
  receiver = await startHttpServer(app, {
    port: 0,
    hostname: '127.0.0.1',
    logger: createLogger({ name: 'rx', level: 'silent' }),
  });
  sim = await startSimulator({ webhookUrl: `http://127.0.0.1:${receiver.port}/hooks` });
  client = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY, timeoutMs: 1_000 });
});

afterAll(async () => {
  await client.close();
  await sim.close();
  await receiver.close();
});

beforeEach(() => {
  sim.simulator.reset();
  deliveries.length = 0;
});

async function failure(work: Promise<unknown>): Promise<SaasError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof SaasError) return error;
    throw error;
  }
  throw new Error('expected a SaasError');
}

const key = () => ({ idempotencyKey: randomUUID() });

async function enrolled(entityId: string, kitNo: string) {
  const accepted = await client.addCustomerAndPaymentInstrument(T, registration(entityId, kitNo), key());
  await sim.simulator.idle();
  const status = await client.getStatus(T, accepted.requestTraceId);
  expect(status.status).toBe('SUCCESS');
  return status;
}

describe('the contract error table, through our client', () => {
  it('400 INVALID_REQUEST with field details is permanent', async () => {
    const body = registration('e-400', 'k-400');
    // Valid for our schema, refused by the SaaS: a card number typed into the name field.
    const error = await failure(
      client.addCustomerAndPaymentInstrument(
        T,
        { ...body, paymentInstrument: { ...body.paymentInstrument, nameOnCard: '4111111111111111' } },
        key(),
      ),
    );
    expect(error).toMatchObject({ kind: 'permanent', status: 400, code: 'INVALID_REQUEST' });
    expect(error.details?.length).toBeGreaterThan(0);
    expect(error.message).not.toContain('4111111111111111');
  });

  it('401 UNAUTHORIZED for a bad key or an unknown tenant is permanent', async () => {
    const stranger = new SaasClient({ baseUrl: sim.url, apiKey: 'wrong-key-0123456789' });
    expect(await failure(stranger.getStatus(T, randomUUID()))).toMatchObject({
      kind: 'permanent',
      status: 401,
      code: 'UNAUTHORIZED',
    });
    await stranger.close();
    expect(await failure(client.getStatus('NOBANK', randomUUID()))).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    });
  });

  it('404 CONSUMER_NOT_FOUND, PAYMENT_INSTRUMENT_NOT_FOUND and REQUEST_NOT_FOUND are permanent', async () => {
    expect(
      await failure(
        client.removeCustomer(T, { externalConsumerId: 'ghost', clickToPayCustomerId: 'c' }, key()),
      ),
    ).toMatchObject({
      kind: 'permanent',
      status: 404,
      code: 'CONSUMER_NOT_FOUND',
    });
    const { clickToPayCustomerId = '' } = await enrolled('e-404', 'k-404');
    const removeUnknownCard = client.removePaymentInstrument(
      T,
      {
        externalConsumerId: 'e-404',
        clickToPayCustomerId,
        clickToPayPaymentInstrumentId: 'nope',
        externalInstrumentId: 'nope',
      },
      key(),
    );
    expect(await failure(removeUnknownCard)).toMatchObject({
      status: 404,
      code: 'PAYMENT_INSTRUMENT_NOT_FOUND',
    });
    expect(await failure(client.getStatus(T, randomUUID()))).toMatchObject({
      status: 404,
      code: 'REQUEST_NOT_FOUND',
    });
    expect(await failure(client.getData(T, 'ghost'))).toMatchObject({
      status: 404,
      code: 'CONSUMER_NOT_FOUND',
    });
  });

  it('409 CONFLICT for an enrolled consumer and for an operation in progress is permanent', async () => {
    await client.addCustomerAndPaymentInstrument(T, registration('e-409', 'k-409'), key());
    expect(
      await failure(client.addCustomerAndPaymentInstrument(T, registration('e-409', 'k-409'), key())),
    ).toMatchObject({
      kind: 'permanent',
      status: 409,
      code: 'CONFLICT',
    });
    await sim.simulator.idle();
    expect(
      await failure(client.addCustomerAndPaymentInstrument(T, registration('e-409', 'k-409'), key())),
    ).toMatchObject({
      status: 409,
      code: 'CONFLICT',
    });
  });

  it('422 IDEMPOTENCY_KEY_REUSED for the same key with another body is permanent', async () => {
    const options = key();
    await client.addCustomerAndPaymentInstrument(T, registration('e-422', 'k-422'), options);
    expect(
      await failure(client.addCustomerAndPaymentInstrument(T, registration('e-422b', 'k-422b'), options)),
    ).toMatchObject({
      kind: 'permanent',
      status: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
  });

  it('429 RATE_LIMITED carries Retry-After; 5xx and a slow answer past the timeout are retryable', async () => {
    sim.simulator.setFaults({ rate429: 1, retryAfterSeconds: 3 });
    expect(await failure(client.getStatus(T, randomUUID()))).toMatchObject({
      kind: 'retryable',
      status: 429,
      code: 'RATE_LIMITED',
      retryAfterMs: 3000,
    });
    sim.simulator.setFaults({ rate429: 0, rate5xx: 1 });
    const error = await failure(
      client.addCustomerAndPaymentInstrument(T, registration('e-5xx', 'k-5xx'), key()),
    );
    expect(error.kind).toBe('retryable');
    expect([500, 502, 503, 504]).toContain(error.status);
    sim.simulator.setFaults({ rate5xx: 0, latencyMs: { min: 1_500, max: 1_500 } });
    expect(await failure(client.getStatus(T, randomUUID()))).toMatchObject({
      kind: 'retryable',
      code: 'TIMEOUT',
    });
    sim.simulator.setFaults({ latencyMs: { min: 0, max: 0 } });
  });
});

describe('idempotency through our client', () => {
  it('a retry after a lost answer gets the same requestTraceId and the work is counted once', async () => {
    const options = key();
    sim.simulator.setFaults({ lostAnswerRate: 1 });
    expect(
      (await failure(client.addCustomerAndPaymentInstrument(T, registration('e-lost', 'k-lost'), options)))
        .kind,
    ).toBe('retryable');
    sim.simulator.setFaults({ lostAnswerRate: 0 });
    const retried = await client.addCustomerAndPaymentInstrument(
      T,
      registration('e-lost', 'k-lost'),
      options,
    );
    const again = await client.addCustomerAndPaymentInstrument(T, registration('e-lost', 'k-lost'), options);
    expect(again.requestTraceId).toBe(retried.requestTraceId);
    const state = sim.simulator.state();
    expect(state.counters.work.byIdempotencyKey[T]?.[options.idempotencyKey]).toBe(1);
    expect(
      state.traces.filter((t) => t.idempotencyKey === options.idempotencyKey).map((t) => t.requestTraceId),
    ).toEqual([retried.requestTraceId]);
  });
});

describe('webhooks interoperate with Standard Webhooks', () => {
  it('the simulator signs what the standardwebhooks package and our verifier accept; tampering and old timestamps are refused', async () => {
    const accepted = await client.addCustomerAndPaymentInstrument(T, registration('e-hook', 'k-hook'), key());
    await sim.simulator.idle();
    const delivery = deliveries.find((d) => d.body.includes(accepted.requestTraceId));
    if (delivery === undefined) throw new Error('no webhook delivered');
    expect(new Webhook(TEST_WEBHOOK_SECRET).verify(delivery.body, delivery.headers)).toMatchObject({
      type: 'request.completed',
      data: { requestTraceId: accepted.requestTraceId, status: 'SUCCESS' },
    });
    expect(verifyWebhook(TEST_WEBHOOK_SECRET, delivery.headers, delivery.body).ok).toBe(true);
    expect(
      verifyWebhook(TEST_WEBHOOK_SECRET, delivery.headers, delivery.body.replace('SUCCESS', 'FAILED')),
    ).toMatchObject({ ok: false });
    const stale = signWebhook(
      TEST_WEBHOOK_SECRET,
      'msg_old',
      delivery.body,
      new Date(Date.now() - 10 * 60_000),
    );
    expect(verifyWebhook(TEST_WEBHOOK_SECRET, stale, delivery.body)).toEqual({
      ok: false,
      error: 'TIMESTAMP_TOO_OLD',
    });
  });
});

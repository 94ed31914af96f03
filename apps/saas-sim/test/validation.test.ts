import { findPans } from '@ctp/core/cards';
import { saasErrorBodySchema } from '@ctp/core/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/testing.ts';
import { accepted, admin, errorCode, PAN, paymentInstrument, registration, saasClient } from './helpers.ts';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ bodyLimitBytes: 4_096 });
});
afterAll(() => sim.close());

async function violations() {
  const state = (await admin(sim, 'GET', '/__sim/state')).body as {
    counters: { violations: Record<string, number>; work: { started: number } };
  };
  return state.counters;
}

describe('400 INVALID_REQUEST', () => {
  it('names each bad field in details, and echoes no value', async () => {
    const body = registration('c-v1', 'k-v1', '4111111111111112');
    const answer = await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', {
      ...body,
      consumer: { ...body.consumer, emails: [], locale: 'english' },
      paymentInstrument: { ...body.paymentInstrument, cvv: PAN },
    });
    expect(answer.status).toBe(400);
    const { error } = saasErrorBodySchema.parse(answer.body);
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.details).toEqual(
      expect.arrayContaining([
        { field: 'consumer.emails', message: expect.any(String) },
        { field: 'consumer.locale', message: expect.any(String) },
        { field: 'paymentInstrument.accountNumber', message: 'must pass the Luhn check' },
        { field: 'paymentInstrument.cvv', message: 'is not a field of this request' },
      ]),
    );
    expect(answer.text).not.toContain('4111111111111112');
    expect(answer.text).not.toContain('english');
    expect(findPans(answer.text)).toEqual([]);
  });

  it('names nested array fields with their index', async () => {
    const body = registration('c-v2', 'k-v2');
    const answer = await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', {
      ...body,
      consumer: { ...body.consumer, phones: [{ countryCode: '971', number: 'x' }] },
    });
    expect(saasErrorBodySchema.parse(answer.body).error.details).toEqual([
      { field: 'consumer.phones[0].number', message: expect.any(String) },
    ]);
  });

  it('refuses a body that is not JSON', async () => {
    const answer = await saasClient(sim.url).send('CTP_REMOVE_ENTITY', null, {
      rawBody: '{"externalConsumerId":',
    });
    expect([answer.status, errorCode(answer)]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('refuses POST and PUT without Idempotency-Key, and counts the violation', async () => {
    const before = (await violations()).violations.missingIdempotencyKey ?? 0;
    const post = await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-v3', 'k-v3'), {
      key: null,
    });
    const put = await saasClient(sim.url).send(
      'CTP_UPDATE_KIT',
      {
        externalConsumerId: 'c-v3',
        clickToPayCustomerId: 'x',
        clickToPayPaymentInstrumentId: 'y',
        paymentInstrument: paymentInstrument('k-v3'),
      },
      { key: null },
    );
    for (const answer of [post, put]) {
      expect(answer.status).toBe(400);
      expect(saasErrorBodySchema.parse(answer.body).error.details).toEqual([
        { field: 'Idempotency-Key', message: 'is required' },
      ]);
    }
    const after = await violations();
    expect(after.violations.missingIdempotencyKey).toBe(before + 2);
    expect(after.work.started).toBe(0);
  });

  it('refuses /status and /getData without their query parameter', async () => {
    const client = saasClient(sim.url);
    for (const [path, field] of [
      ['/status', 'requestTraceId'],
      ['/getData', 'externalConsumerId'],
    ] as const) {
      const answer = await client.get(path);
      expect(answer.status).toBe(400);
      expect(saasErrorBodySchema.parse(answer.body).error.details).toEqual([
        { field, message: expect.any(String) },
      ]);
    }
  });
});

describe('413 for a body over the limit', () => {
  it('answers with the contract error body and does no work', async () => {
    const body = registration('c-big', 'k-big');
    const answer = await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', {
      ...body,
      consumer: { ...body.consumer, lastName: 'x'.repeat(5_000) },
    });
    expect(answer.status).toBe(413);
    expect(saasErrorBodySchema.parse(answer.body).error.code).toBe('INVALID_REQUEST');
    expect((await violations()).work.started).toBe(0);
  });
});

describe('X-Request-Id', () => {
  it('serves a request without it but counts the violation', async () => {
    const before = (await violations()).violations.missingRequestId ?? 0;
    const response = await fetch(`${sim.url}/getData?externalConsumerId=nobody`, {
      headers: { authorization: `Bearer ${sim.options.apiKey}`, 'x-tenant-id': 'ENBDTABBY' },
    });
    expect(response.status).toBe(404);
    expect((await violations()).violations.missingRequestId).toBe(before + 1);
  });

  it('counts nothing when the caller follows the contract', async () => {
    const fresh = await startSimulator();
    try {
      accepted(await saasClient(fresh.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-ok', 'k-ok')));
      const state = (await admin(fresh, 'GET', '/__sim/state')).body as {
        counters: { violations: Record<string, number> };
      };
      expect(Object.values(state.counters.violations).every((n) => n === 0)).toBe(true);
    } finally {
      await fresh.close();
    }
  });
});

describe('unknown paths', () => {
  it('answer 404 with the error body', async () => {
    const answer = await saasClient(sim.url).get('/nothing-here');
    expect(answer.status).toBe(404);
    expect(saasErrorBodySchema.parse(answer.body).error.code).toBe('NOT_FOUND');
  });
});

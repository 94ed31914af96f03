import { saasErrorBodySchema } from '@ctp/core/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, type SimulatorState, seededRandom, startSimulator } from '../src/testing.ts';
import { accepted, admin, registration, saasClient } from './helpers.ts';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function state(running: RunningSimulator): Promise<SimulatorState> {
  return (await admin(running, 'GET', '/__sim/state')).body as SimulatorState;
}

describe('request faults', () => {
  it('rate429 answers 429 RATE_LIMITED with Retry-After and does no work', async () => {
    sim = await startSimulator({ faults: { rate429: 1, retryAfterSeconds: 7 } });
    const answer = await saasClient(sim.url).send(
      'CTP_REGISTER_ENTITY_AND_KIT',
      registration('c-f1', 'k-f1'),
    );
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('7');
    expect(saasErrorBodySchema.parse(answer.body).error.code).toBe('RATE_LIMITED');
    expect((await state(sim)).counters.work.started).toBe(0);
  });

  it('rate5xx answers 500, 502, 503 or 504 without doing the work', async () => {
    sim = await startSimulator({ faults: { rate5xx: 1 }, random: seededRandom(42) });
    const client = saasClient(sim.url);
    const statuses = new Set<number>();
    for (let i = 0; i < 24; i++) {
      const answer = await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration(`c-f2-${i}`, 'k'));
      statuses.add(answer.status);
      const { code } = saasErrorBodySchema.parse(answer.body).error;
      expect(code).toBe(answer.status === 500 ? 'INTERNAL' : 'UNAVAILABLE');
    }
    expect([...statuses].sort()).toEqual([500, 502, 503, 504]);
    const { counters, traces } = await state(sim);
    expect(counters.work.started).toBe(0);
    expect(traces).toEqual([]);
  });

  it('rate5xx reaches the read endpoints too', async () => {
    sim = await startSimulator({ faults: { rate5xx: 1 } });
    expect((await saasClient(sim.url).getData('c-f3')).status).toBeGreaterThanOrEqual(500);
  });

  it('latencyMs delays the answer', async () => {
    sim = await startSimulator({ faults: { latencyMs: { min: 120, max: 120 } } });
    const started = performance.now();
    await saasClient(sim.url).getData('c-f4');
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });
});

describe('/__sim/faults', () => {
  it('reads the full set, all off by default', async () => {
    sim = await startSimulator();
    expect((await admin(sim, 'GET', '/__sim/faults')).body).toEqual({
      rejectionRate: 0,
      rate5xx: 0,
      rate429: 0,
      retryAfterSeconds: 1,
      latencyMs: { min: 0, max: 0 },
      lostAnswerRate: 0,
      webhookDropRate: 0,
      webhookDuplicateRate: 0,
      webhookDelayMs: { min: 0, max: 0 },
      webhookBeforeAcceptRate: 0,
      answerText: {},
    });
  });

  it('applies a partial change, keeps the other knobs, and answers the full set', async () => {
    sim = await startSimulator({ faults: { rate429: 0.5 } });
    const answer = await admin(sim, 'POST', '/__sim/faults', { rejectionRate: 1 });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ rejectionRate: 1, rate429: 0.5, rate5xx: 0 });
    expect((await admin(sim, 'GET', '/__sim/faults')).body).toEqual(answer.body);
  });

  it('refuses invalid settings with field details and changes nothing', async () => {
    sim = await startSimulator();
    for (const bad of [
      { rate5xx: 2 },
      { latencyMs: { min: 50, max: 10 } },
      { noSuchKnob: true },
      [1, 2],
      'rate5xx=1',
    ]) {
      const answer = await admin(sim, 'POST', '/__sim/faults', bad);
      expect(answer.status).toBe(400);
      expect(saasErrorBodySchema.parse(answer.body).error.code).toBe('INVALID_REQUEST');
    }
    const answer = await admin(sim, 'POST', '/__sim/faults', { latencyMs: { min: 50, max: 10 } });
    expect(saasErrorBodySchema.parse(answer.body).error.details).toEqual([
      { field: 'latencyMs.max', message: 'min must not exceed max' },
    ]);
    expect(((await admin(sim, 'GET', '/__sim/faults')).body as { rate5xx: number }).rate5xx).toBe(0);
  });

  it('reset forgets everything and returns to the boot faults', async () => {
    sim = await startSimulator({ faults: { webhookDropRate: 0.25 } });
    accepted(await saasClient(sim.url).send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-f5', 'k-f5')));
    await admin(sim, 'POST', '/__sim/faults', { webhookDropRate: 0, rejectionRate: 1 });
    expect((await admin(sim, 'POST', '/__sim/reset')).status).toBe(200);
    const after = await state(sim);
    expect(after.traces).toEqual([]);
    expect(after.tenants.ENBDTABBY?.consumers).toEqual([]);
    expect(after.counters.work.started).toBe(0);
    expect(after.idempotency.keys).toBe(0);
    expect(after.faults).toMatchObject({ webhookDropRate: 0.25, rejectionRate: 0 });
  });
});

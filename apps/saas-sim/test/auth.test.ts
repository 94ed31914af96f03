import { saasErrorBodySchema } from '@ctp/core/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/testing.ts';
import { admin, errorCode, registration, saasClient } from './helpers.ts';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());

describe('authentication (X-TENANT-ID + bearer key on every contract route)', () => {
  it('answers 401 UNAUTHORIZED to a bad key, on reads and on operations', async () => {
    const intruder = saasClient(sim.url, 'ENBDTABBY', 'not-the-key-at-all-0000');
    for (const answer of [
      await intruder.status('00000000-0000-4000-8000-000000000000'),
      await intruder.getData('c-1'),
      await intruder.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-1', 'k-1')),
    ]) {
      expect(answer.status).toBe(401);
      expect(saasErrorBodySchema.parse(answer.body).error.code).toBe('UNAUTHORIZED');
    }
  });

  it('answers 401 to an unknown tenant and to a missing tenant', async () => {
    const stranger = saasClient(sim.url, 'NOBANK');
    const unknown = await stranger.getData('c-1');
    expect([unknown.status, errorCode(unknown)]).toEqual([401, 'UNAUTHORIZED']);

    const missing = await fetch(`${sim.url}/getData?externalConsumerId=c-1`, {
      headers: { authorization: `Bearer ${sim.options.apiKey}` },
    });
    expect(missing.status).toBe(401);
  });

  it('answers 401 without an Authorization header or with another scheme', async () => {
    for (const authorization of [undefined, `Basic ${sim.options.apiKey}`, sim.options.apiKey]) {
      const response = await fetch(`${sim.url}/getData?externalConsumerId=c-1`, {
        headers: { 'x-tenant-id': 'ENBDTABBY', ...(authorization === undefined ? {} : { authorization }) },
      });
      expect(response.status).toBe(401);
    }
  });

  it('does no work for an unauthenticated request and counts it as a violation', async () => {
    await saasClient(sim.url, 'NOBANK').send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-2', 'k-2'));
    const state = (await admin(sim, 'GET', '/__sim/state')).body as {
      counters: { work: { started: number }; violations: { unauthorized: number } };
    };
    expect(state.counters.work.started).toBe(0);
    expect(state.counters.violations.unauthorized).toBeGreaterThan(0);
  });

  it('keeps /healthz and the admin routes outside the key', async () => {
    expect((await fetch(`${sim.url}/healthz`)).status).toBe(200);
    expect((await admin(sim, 'GET', '/__sim/faults')).status).toBe(200);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, type SimulatorState, startSimulator } from '../src/testing.ts';
import { accepted, admin, registration, saasClient, settled } from './helpers.ts';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('admin routes', () => {
  it('/__sim/state shows the model, traces and counters', async () => {
    sim = await startSimulator();
    const client = saasClient(sim.url);
    const { requestTraceId } = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-a1', 'k-a1'), {
        key: '6f1c1a52-3a43-4bd0-9d6b-3d9f7f1b2a11',
      }),
    );
    await settled(client, requestTraceId);
    await client.getData('c-a1');

    const state = (await admin(sim, 'GET', '/__sim/state')).body as SimulatorState;
    expect(state.tenants.ENBDTABBY?.consumers).toEqual([
      expect.objectContaining({
        externalConsumerId: 'c-a1',
        status: 'ACTIVE',
        paymentInstruments: [
          expect.objectContaining({
            externalInstrumentId: 'k-a1',
            panLastFour: '1111',
            nameOnCard: 'AISHA KHAN',
          }),
        ],
      }),
    ]);
    expect(state.tenants.DEMOBANK?.consumers).toEqual([]);
    expect(state.traces).toEqual([
      expect.objectContaining({
        tenant: 'ENBDTABBY',
        idempotencyKey: '6f1c1a52-3a43-4bd0-9d6b-3d9f7f1b2a11',
        requestTraceId,
        status: 'SUCCESS',
      }),
    ]);
    expect(state.counters.requests).toMatchObject({
      'POST /addCustomerAndPaymentInstrument': { '202': 1 },
      'GET /getData': { '200': 1 },
    });
    expect(state.counters.work).toEqual({
      started: 1,
      byIdempotencyKey: { ENBDTABBY: { '6f1c1a52-3a43-4bd0-9d6b-3d9f7f1b2a11': 1 } },
    });
    expect(state.counters.webhooks.skipped).toBe(1);
    expect(state.inProgress).toBe(0);
  });

  it('are not mounted with admin: false', async () => {
    sim = await startSimulator({ admin: false });
    expect((await admin(sim, 'GET', '/__sim/state')).status).toBe(404);
    expect((await admin(sim, 'POST', '/__sim/faults', { rate5xx: 1 })).status).toBe(404);
    expect((await fetch(`${sim.url}/healthz`)).status).toBe(200);
  });
});

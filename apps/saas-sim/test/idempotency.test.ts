import { randomUUID } from 'node:crypto';
import { saasErrorBodySchema } from '@ctp/core/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock, type RunningSimulator, type SimulatorState, startSimulator } from '../src/testing.ts';
import { accepted, admin, errorCode, registration, saasClient, settled } from './helpers.ts';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function state(running: RunningSimulator): Promise<SimulatorState> {
  return (await admin(running, 'GET', '/__sim/state')).body as SimulatorState;
}

describe('Idempotency-Key', () => {
  it('answers a repeat with the first answer and starts the work once', async () => {
    sim = await startSimulator();
    const client = saasClient(sim.url);
    const key = randomUUID();
    const body = registration('c-i1', 'k-i1');
    const first = await client.send('CTP_REGISTER_ENTITY_AND_KIT', body, { key });
    const again = await client.send('CTP_REGISTER_ENTITY_AND_KIT', body, { key });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    // Still the first answer after the trace has ended: no 409 "already enrolled".
    await settled(client, accepted(first).requestTraceId);
    const late = await client.send('CTP_REGISTER_ENTITY_AND_KIT', body, { key });
    expect([late.status, late.body]).toEqual([202, first.body]);

    const { counters, traces } = await state(sim);
    expect(counters.work.started).toBe(1);
    expect(counters.work.byIdempotencyKey.ENBDTABBY).toEqual({ [key]: 1 });
    expect(traces).toHaveLength(1);
  });

  it('starts the work once when the same request arrives several times at once', async () => {
    sim = await startSimulator();
    const client = saasClient(sim.url);
    const key = randomUUID();
    const body = registration('c-i9', 'k-i9');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => client.send('CTP_REGISTER_ENTITY_AND_KIT', body, { key })),
    );
    const ids = new Set(answers.map((a) => accepted(a).requestTraceId));
    expect(ids.size).toBe(1);
    expect((await state(sim)).counters.work.started).toBe(1);
  });

  it('treats a body with its keys in another order as the same request', async () => {
    sim = await startSimulator();
    const client = saasClient(sim.url);
    const key = randomUUID();
    const body = { externalConsumerId: 'c-i2', clickToPayCustomerId: 'x', reason: 'closed' };
    const reordered = { reason: 'closed', clickToPayCustomerId: 'x', externalConsumerId: 'c-i2' };
    // Both are refused (404: nobody enrolled); a refusal is not stored, so both are judged.
    const a = await client.send('CTP_REMOVE_ENTITY', body, { key });
    const b = await client.send('CTP_REMOVE_ENTITY', reordered, { key });
    expect([a.status, b.status]).toEqual([404, 404]);
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED to the same key with another body', async () => {
    sim = await startSimulator();
    const client = saasClient(sim.url);
    const key = randomUUID();
    accepted(await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-i3', 'k-i3'), { key }));
    const reuse = await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-i4', 'k-i4'), { key });
    expect(reuse.status).toBe(422);
    expect(saasErrorBodySchema.parse(reuse.body).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const { counters } = await state(sim);
    expect(counters.work.started).toBe(1);
    expect(counters.violations.idempotencyKeyReused).toBe(1);
  });

  it('keeps keys per tenant', async () => {
    sim = await startSimulator();
    const key = randomUUID();
    const body = registration('c-i5', 'k-i5');
    const a = accepted(
      await saasClient(sim.url, 'ENBDTABBY').send('CTP_REGISTER_ENTITY_AND_KIT', body, { key }),
    );
    const b = accepted(
      await saasClient(sim.url, 'DEMOBANK').send('CTP_REGISTER_ENTITY_AND_KIT', body, { key }),
    );
    expect(a.requestTraceId).not.toBe(b.requestTraceId);
  });

  it('after a lost answer (work done, 5xx answered) a retry gets the stored 202', async () => {
    sim = await startSimulator({ faults: { lostAnswerRate: 1 } });
    const client = saasClient(sim.url);
    const key = randomUUID();
    const body = registration('c-i6', 'k-i6');
    const lost = await client.send('CTP_REGISTER_ENTITY_AND_KIT', body, { key });
    expect([500, 503]).toContain(lost.status);
    expect(['INTERNAL', 'UNAVAILABLE']).toContain(errorCode(lost));

    await admin(sim, 'POST', '/__sim/faults', { lostAnswerRate: 0 });
    const retry = accepted(await client.send('CTP_REGISTER_ENTITY_AND_KIT', body, { key }));
    const { counters, traces } = await state(sim);
    expect(traces.map((t) => t.requestTraceId)).toEqual([retry.requestTraceId]);
    expect(counters.work.started).toBe(1);
    expect(counters.work.byIdempotencyKey.ENBDTABBY?.[key]).toBe(1);
  });

  it('forgets a key after 24 hours', async () => {
    const clock = manualClock();
    sim = await startSimulator({ clock });
    const client = saasClient(sim.url);
    const key = randomUUID();
    const first = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-i7', 'k-i7'), { key }),
    );
    await settled(client, first.requestTraceId);

    clock.advance(24 * 3_600_000 - 1);
    expect(
      (await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-i8', 'k-i8'), { key })).status,
    ).toBe(422);
    clock.advance(1);
    const fresh = accepted(
      await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration('c-i8', 'k-i8'), { key }),
    );
    expect(fresh.requestTraceId).not.toBe(first.requestTraceId);
  });
});

import { CtpKitReplacement, type CtpOperation } from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entitySteps, type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// Platform contract v2: a card replacement moves Click to Pay to the new card by itself, in the
// order of its reason, each step an ordinary operation with its notification; a step the network
// fails is retried, and a plan that cannot finish says which card is where.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ env: { REPLACEMENT_RETRY_DELAY_MS: '300', REPLACEMENT_STEP_ATTEMPTS: '2' } });
});
afterAll(async () => {
  await p.close();
});

const NEW_CARD = { pan: '5555555555554444', expiry: { month: '09', year: '2034' } };

const { enrolled, operationsOf } = entitySteps(() => p);

const events = (ops: readonly CtpOperation[]) => ops.map((o) => `${o.event}:${o.kitNumber}:${o.status}`);

async function until<T>(read: () => Promise<T | undefined>, timeoutMs = 20_000, pauseMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** The plan once it has ended, and every operation of the entity ended. */
async function ended(entityId: string, newKitNo: string) {
  return until(async () => {
    const plan = await p.db.orm.em
      .fork()
      .findOne(CtpKitReplacement, { tenant: TENANT, newKitNumber: newKitNo });
    const ops = await operationsOf(entityId);
    if (plan === null || plan.status === 'RUNNING') return undefined;
    if (!ops.every((o) => o.status === 'SUCCESS' || o.status === 'FAILED')) return undefined;
    return { plan, ops };
  });
}

const instrumentsOf = (entityId: string) =>
  (
    p.sim.simulator.state().tenants[TENANT]?.consumers.find((c) => c.externalConsumerId === entityId)
      ?.paymentInstruments ?? []
  ).map((i) => `${i.externalInstrumentId}:${i.status}`);

describe('card replacement', () => {
  it.each([
    ['LOST_STOLEN', ['CTP_REMOVE_KIT:old', 'CTP_ADD_KIT:new']],
    ['REISSUE', ['CTP_ADD_KIT:new', 'CTP_REMOVE_KIT:old']],
    ['EXPIRY', ['CTP_ADD_KIT:new', 'CTP_REMOVE_KIT:old']],
    ['DAMAGED', ['CTP_ADD_KIT:new', 'CTP_REMOVE_KIT:old']],
  ] as const)('%s ends with only the new card on Click to Pay, steps in order: %j', async (reason, order) => {
    const entityId = `rp-${reason.toLowerCase()}`;
    const [oldKit, newKit] = [`${entityId}-old`, `${entityId}-new`];
    await enrolled(entityId, [oldKit]);
    const replaced = await p.call('POST', `/v1/entities/${entityId}/kits/${oldKit}/replace`, {
      newKitNo: newKit,
      ...NEW_CARD,
      reason,
    });
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(201);
    expect(replaced.headers.get('location')).toBe(`/v1/entities/${entityId}/kits/${newKit}`);
    expect(replaced.body).toMatchObject({
      kitNo: newKit,
      pan: '555555******4444',
      nameOnCard: 'AISHA KHAN',
      status: 'ACTIVE',
      replacement: { reason, status: 'RUNNING', oldKitNo: oldKit, newKitNo: newKit },
    });
    const { plan, ops } = await ended(entityId, newKit);
    expect(plan.status).toBe('COMPLETED');
    const kitNames = { [oldKit]: 'old', [newKit]: 'new' } as Record<string, string>;
    expect(ops.slice(1).map((o) => `${o.event}:${kitNames[o.kitNumber ?? '']}`)).toEqual(order);
    expect(ops.every((o) => o.status === 'SUCCESS')).toBe(true);
    expect(instrumentsOf(entityId).sort()).toEqual([`${newKit}:ACTIVE`, `${oldKit}:REMOVED`]);
    // Each step is announced like any operation.
    for (const op of ops.slice(1))
      expect((await p.notification(op.id)).payload.transactionType).toBe(op.event);
    const old = await p.call('GET', `/v1/entities/${entityId}/kits/${oldKit}`);
    expect(old.body).toMatchObject({ status: 'CLOSED', ctpKitStatus: 'REMOVED' });
    const view = await p.call('GET', `/v1/entities/${entityId}/kits/${newKit}/replacement`);
    expect(view.body).toMatchObject({ status: 'COMPLETED', steps: [{ status: 'DONE' }, { status: 'DONE' }] });
  });

  it('a replace retried with its Idempotency-Key answers the same card and plan, and moves the network once', async () => {
    await enrolled('rp-retry', ['rp-retry-old']);
    const request = { newKitNo: 'rp-retry-new', ...NEW_CARD, reason: 'LOST_STOLEN' };
    const headers = { 'idempotency-key': 'rp-retry-1' };
    // The first answer is lost; the client sends the same request again, twice at once.
    const first = await p.call('POST', '/v1/entities/rp-retry/kits/rp-retry-old/replace', request, headers);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const retries = await Promise.all(
      [1, 2].map(() => p.call('POST', '/v1/entities/rp-retry/kits/rp-retry-old/replace', request, headers)),
    );
    for (const retry of retries) {
      expect(retry.status, JSON.stringify(retry.body)).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body).toMatchObject({
        kitNo: 'rp-retry-new',
        replacement: {
          replacementId: (first.body.replacement as { replacementId: string }).replacementId,
          reason: 'LOST_STOLEN',
        },
      });
    }
    const { plan, ops } = await ended('rp-retry', 'rp-retry-new');
    expect(plan.status).toBe('COMPLETED');
    expect(events(ops.slice(1))).toEqual([
      'CTP_REMOVE_KIT:rp-retry-old:SUCCESS',
      'CTP_ADD_KIT:rp-retry-new:SUCCESS',
    ]);
    expect(
      await p.db.orm.em.fork().count(CtpKitReplacement, { tenant: TENANT, oldKitNumber: 'rp-retry-old' }),
    ).toBe(1);
    expect(instrumentsOf('rp-retry').sort()).toEqual(['rp-retry-new:ACTIVE', 'rp-retry-old:REMOVED']);
  });

  it('retries a middle step the network fails, and still ends with only the new card', async () => {
    await enrolled('rp-fault', ['rp-fault-old']);
    const replaced = await p.call('POST', '/v1/entities/rp-fault/kits/rp-fault-old/replace', {
      newKitNo: 'rp-fault-new',
      ...NEW_CARD,
      reason: 'REISSUE',
    });
    expect(replaced.status).toBe(201);
    try {
      // The first step (add the new card) succeeds; the network rejects the second (remove the old).
      await until(async () =>
        (await operationsOf('rp-fault')).some((o) => o.event === 'CTP_ADD_KIT' && o.status === 'SUCCESS')
          ? true
          : undefined,
      );
      p.sim.simulator.setFaults({ rejectionRate: 1 });
      await until(async () =>
        (await operationsOf('rp-fault')).some((o) => o.event === 'CTP_REMOVE_KIT' && o.status === 'FAILED')
          ? true
          : undefined,
      );
    } finally {
      p.sim.simulator.setFaults({ rejectionRate: 0 });
    }
    const { plan, ops } = await ended('rp-fault', 'rp-fault-new');
    expect(plan.status).toBe('COMPLETED');
    expect(events(ops.slice(1))).toEqual([
      'CTP_ADD_KIT:rp-fault-new:SUCCESS',
      'CTP_REMOVE_KIT:rp-fault-old:FAILED',
      'CTP_REMOVE_KIT:rp-fault-old:SUCCESS',
    ]);
    expect(instrumentsOf('rp-fault').sort()).toEqual(['rp-fault-new:ACTIVE', 'rp-fault-old:REMOVED']);
  });

  it('reports a plan whose step keeps failing, saying which card is where', async () => {
    await enrolled('rp-stuck', ['rp-stuck-old']);
    const replaced = await p.call('POST', '/v1/entities/rp-stuck/kits/rp-stuck-old/replace', {
      newKitNo: 'rp-stuck-new',
      ...NEW_CARD,
      reason: 'LOST_STOLEN',
    });
    expect(replaced.status).toBe(201);
    try {
      await until(async () =>
        (await operationsOf('rp-stuck')).some((o) => o.event === 'CTP_REMOVE_KIT' && o.status === 'SUCCESS')
          ? true
          : undefined,
      );
      p.sim.simulator.setFaults({ rejectionRate: 1 });
      const { plan, ops } = await ended('rp-stuck', 'rp-stuck-new');
      expect(plan.status).toBe('FAILED');
      expect(events(ops.slice(1))).toEqual([
        'CTP_REMOVE_KIT:rp-stuck-old:SUCCESS',
        'CTP_ADD_KIT:rp-stuck-new:FAILED',
        'CTP_ADD_KIT:rp-stuck-new:FAILED',
      ]);
      const view = await p.call('GET', '/v1/entities/rp-stuck/kits/rp-stuck-new/replacement');
      expect(view.body).toMatchObject({
        status: 'FAILED',
        steps: [{ status: 'DONE' }, { status: 'FAILED' }],
      });
      expect(String(view.body.error)).toMatch(
        /old card rp-stuck-old is REMOVED and the new card rp-stuck-new is REMOVED|UNREGISTERED/,
      );
    } finally {
      p.sim.simulator.setFaults({ rejectionRate: 0 });
    }
  });

  it('a card that is not on Click to Pay is replaced without any CTP work', async () => {
    await p.customer('rp-off', ['rp-off-old']);
    const replaced = await p.call('POST', '/v1/entities/rp-off/kits/rp-off-old/replace', {
      newKitNo: 'rp-off-new',
      ...NEW_CARD,
      nameOnCard: 'NEW NAME',
      reason: 'DAMAGED',
    });
    expect(replaced.status).toBe(201);
    expect(replaced.body).toMatchObject({ nameOnCard: 'NEW NAME', replacement: null });
    expect(await operationsOf('rp-off')).toHaveLength(0);
  });
});

import { type CtpOperation, CtpPendingSync } from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi } from '../src/api-process.ts';
import { entitySteps, type Pipeline, startPipeline } from '../src/harness.ts';

// Platform contract v2, "Card and customer lifecycle from the platform's records": a closed card
// or customer leaves Click to Pay by itself (also when the api dies right after the commit), a
// blocked card enrols again only once ACTIVE, and a card change reaches the network once.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});
afterAll(async () => {
  await p.close();
});

const { enrolled, operationsOf, quiet, networkConsumer, requestsTo: calls } = entitySteps(() => p);

const events = (ops: readonly CtpOperation[]) =>
  ops.map((o) => `${o.event}:${o.kitNumber ?? '-'}:${o.status}`);

const instrumentOf = (entityId: string, kitNo: string) =>
  networkConsumer(entityId)?.paymentInstruments.find((i) => i.externalInstrumentId === kitNo);

describe('a card closed in the platform records', () => {
  it('leaves Click to Pay by itself, keeps the other cards, and never enrols again', async () => {
    await enrolled('cl-close', ['cl-close-k1', 'cl-close-k2']);
    const closed = await p.call('PUT', '/v1/entities/cl-close/kits/cl-close-k1/status', { status: 'CLOSED' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body).toMatchObject({ kitNo: 'cl-close-k1', status: 'CLOSED' });

    const ops = await quiet('cl-close');
    expect(events(ops).slice(2)).toEqual(['CTP_REMOVE_KIT:cl-close-k1:SUCCESS']);
    expect(instrumentOf('cl-close', 'cl-close-k1')?.status).toBe('REMOVED');
    expect(instrumentOf('cl-close', 'cl-close-k2')?.status).toBe('ACTIVE');
    const removal = await p.notification(String(ops[2]?.id));
    expect(removal.payload).toMatchObject({
      transactionType: 'CTP_REMOVE_KIT',
      serverNotifyData: { kitNo: 'cl-close-k1', requestStatus: 'SUCCESS', ctpKitStatus: 'REMOVED' },
    });

    const again = await p.call('POST', '/v1/ctp/entities/cl-close/kits', { kitNo: 'cl-close-k1' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'CARD_NOT_ACTIVE' } });
    const reopen = await p.call('PUT', '/v1/entities/cl-close/kits/cl-close-k1/status', { status: 'ACTIVE' });
    expect(reopen.status).toBe(409);
    expect(reopen.body).toMatchObject({ error: { code: 'INVALID_STATE' } });
    // Closing it again is the same request: nothing new starts.
    expect(
      (await p.call('PUT', '/v1/entities/cl-close/kits/cl-close-k1/status', { status: 'CLOSED' })).status,
    ).toBe(200);
    expect(await operationsOf('cl-close')).toHaveLength(3);
  });

  it('waits behind the operation in flight for its entity, then removes the card', async () => {
    await p.customer('cl-wait', ['cl-wait-k']);
    p.sim.simulator.setFaults({ latencyMs: { min: 200, max: 200 } });
    try {
      const registration = await p.call('POST', '/v1/ctp/entities/cl-wait/registration', {
        kitNo: 'cl-wait-k',
      });
      expect(registration.status).toBe(202);
      expect(
        (await p.call('PUT', '/v1/entities/cl-wait/kits/cl-wait-k/status', { status: 'CLOSED' })).status,
      ).toBe(200);
    } finally {
      p.sim.simulator.setFaults({ latencyMs: { min: 0, max: 0 } });
    }
    const ops = await quiet('cl-wait');
    expect(events(ops)).toEqual([
      'CTP_REGISTER_ENTITY_AND_KIT:cl-wait-k:SUCCESS',
      'CTP_REMOVE_KIT:cl-wait-k:SUCCESS',
    ]);
    expect(instrumentOf('cl-wait', 'cl-wait-k')?.status).toBe('REMOVED');
  });

  it('is removed even when the api process is killed right after the commit of the status', async () => {
    await enrolled('cl-kill', ['cl-kill-k']);
    const api = await spawnApi(p.workerEnv);
    const answer = await api.call('PUT', '/v1/entities/cl-kill/kits/cl-kill-k/status', { status: 'CLOSED' });
    await api.kill();
    expect(answer.status).toBe(200);
    const ops = await quiet('cl-kill');
    expect(events(ops).at(-1)).toBe('CTP_REMOVE_KIT:cl-kill-k:SUCCESS');
    expect(instrumentOf('cl-kill', 'cl-kill-k')?.status).toBe('REMOVED');
  });

  it('a card never on Click to Pay is closed without any CTP work', async () => {
    await p.customer('cl-off', ['cl-off-k']);
    expect(
      (await p.call('PUT', '/v1/entities/cl-off/kits/cl-off-k/status', { status: 'CLOSED' })).status,
    ).toBe(200);
    const refused = await p.call('POST', '/v1/ctp/entities/cl-off/registration', { kitNo: 'cl-off-k' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'CARD_NOT_ACTIVE' } });
    expect(await operationsOf('cl-off')).toHaveLength(0);
    expect(await p.db.orm.em.fork().count(CtpPendingSync, { entityId: 'cl-off' })).toBe(0);
  });
});

describe('a blocked card', () => {
  it('refuses new enrolments with 409 CARD_NOT_ACTIVE until it is ACTIVE again, and stays on Click to Pay', async () => {
    await enrolled('bl', ['bl-k1']);
    await p.customer('bl', ['bl-k1', 'bl-k2']);
    const blocked = await p.call('PUT', '/v1/entities/bl/kits/bl-k2/status', { status: 'BLOCKED' });
    expect(blocked.body).toMatchObject({ status: 'BLOCKED', ctpKitStatus: 'UNREGISTERED' });
    const refused = await p.call('POST', '/v1/ctp/entities/bl/kits', { kitNo: 'bl-k2' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: { code: 'CARD_NOT_ACTIVE', details: { status: 'BLOCKED' } },
    });
    expect(await operationsOf('bl')).toHaveLength(1);

    // Blocking an enrolled card removes nothing.
    expect((await p.call('PUT', '/v1/entities/bl/kits/bl-k1/status', { status: 'BLOCKED' })).status).toBe(
      200,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await operationsOf('bl')).toHaveLength(1);
    expect(instrumentOf('bl', 'bl-k1')?.status).toBe('ACTIVE');

    expect((await p.call('PUT', '/v1/entities/bl/kits/bl-k2/status', { status: 'ACTIVE' })).status).toBe(200);
    const added = await p.call('POST', '/v1/ctp/entities/bl/kits', { kitNo: 'bl-k2' });
    expect(added.status).toBe(202);
    expect((await p.settled(String(added.body.operationId))).status).toBe('SUCCESS');
  });
});

describe('a customer closed in the platform records', () => {
  it('leaves Click to Pay with all its cards by itself, and enrols nothing until it is ACTIVE again', async () => {
    await enrolled('cu-close', ['cu-close-k1', 'cu-close-k2']);
    const closed = await p.call('PUT', '/v1/entities/cu-close/status', { status: 'CLOSED' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body).toMatchObject({ entityId: 'cu-close', status: 'CLOSED' });
    const ops = await quiet('cu-close');
    expect(events(ops).at(-1)).toBe('CTP_REMOVE_ENTITY:-:SUCCESS');
    expect(networkConsumer('cu-close')?.status).toBe('REMOVED');
    expect(networkConsumer('cu-close')?.paymentInstruments.map((i) => i.status)).toEqual([
      'REMOVED',
      'REMOVED',
    ]);
    const ours = await p.call('GET', '/v1/ctp/entities/cu-close');
    expect(ours.body).toMatchObject({
      ctpEntityStatus: 'REMOVED',
      kits: [{ ctpKitStatus: 'REMOVED' }, { ctpKitStatus: 'REMOVED' }],
    });

    const refused = await p.call('POST', '/v1/ctp/entities/cu-close/registration', { kitNo: 'cu-close-k1' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'CUSTOMER_NOT_ACTIVE' } });

    expect((await p.call('PUT', '/v1/entities/cu-close/status', { status: 'ACTIVE' })).status).toBe(200);
    const back = await p.call('POST', '/v1/ctp/entities/cu-close/registration', { kitNo: 'cu-close-k1' });
    expect(back.status).toBe(202);
    expect((await p.settled(String(back.body.operationId))).status).toBe('SUCCESS');
  });
});

describe('a card change (PATCH)', () => {
  it('sends a new expiry of an ACTIVE kit to the network once', async () => {
    await enrolled('ch-exp', ['ch-exp-k']);
    const before = calls('PUT /updatePaymentInstrument');
    const changed = await p.call('PATCH', '/v1/entities/ch-exp/kits/ch-exp-k', {
      expiry: { month: '07', year: '2033' },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ expiry: { month: '07', year: '2033' }, nameOnCard: 'AISHA KHAN' });
    const ops = await quiet('ch-exp');
    expect(events(ops).slice(1)).toEqual(['CTP_UPDATE_KIT:ch-exp-k:SUCCESS']);
    expect(calls('PUT /updatePaymentInstrument') - before).toBe(1);
    expect(instrumentOf('ch-exp', 'ch-exp-k')).toMatchObject({
      expirationDate: { month: '07', year: '2033' },
    });
    const again = await p.call('PATCH', '/v1/entities/ch-exp/kits/ch-exp-k', {
      expiry: { month: '07', year: '2033' },
    });
    expect(again.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await operationsOf('ch-exp')).toHaveLength(2);
  });

  it('coalesces changes made while an operation is in flight into one update with the latest data', async () => {
    await enrolled('ch-burst', ['ch-burst-k']);
    const before = calls('PUT /updatePaymentInstrument');
    p.sim.simulator.setFaults({ latencyMs: { min: 1000, max: 1000 } });
    try {
      expect((await p.call('POST', '/v1/ctp/entities/ch-burst/sync')).status).toBe(202);
      expect(
        (await p.call('PATCH', '/v1/entities/ch-burst/kits/ch-burst-k', { nameOnCard: 'A KHAN' })).status,
      ).toBe(200);
      expect(
        (
          await p.call('PATCH', '/v1/entities/ch-burst/kits/ch-burst-k', {
            expiry: { month: '01', year: '2034' },
          })
        ).status,
      ).toBe(200);
    } finally {
      p.sim.simulator.setFaults({ latencyMs: { min: 0, max: 0 } });
    }
    const ops = await quiet('ch-burst');
    expect(events(ops).slice(1)).toEqual([
      'CTP_UPDATE_ENTITY:-:SUCCESS',
      'CTP_UPDATE_KIT:ch-burst-k:SUCCESS',
    ]);
    expect(calls('PUT /updatePaymentInstrument') - before).toBe(1);
    expect(instrumentOf('ch-burst', 'ch-burst-k')).toMatchObject({
      nameOnCard: 'A KHAN',
      expirationDate: { month: '01', year: '2034' },
    });
  });
});

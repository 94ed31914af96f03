import { findPans } from '@ctp/core/cards';
import { loadConfig } from '@ctp/core/config';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// Each of the six CTP events end to end: api → outbox → BullMQ → SaaS simulator → webhook or
// poller → resolve → stream, with statuses, network ids and notifications as the seed says.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});
afterAll(async () => {
  await p.close();
});
beforeEach(() => {
  p.sim.simulator.setFaults({ rejectionRate: 0 });
});

async function run(method: string, path: string, body?: unknown) {
  const accepted = await p.call(method, path, body);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  expect(accepted.headers.get('location')).toBe(`/v1/ctp/operations/${String(accepted.body.operationId)}`);
  expect(accepted.body.status).toBe('QUEUED');
  return p.settled(String(accepted.body.operationId));
}

async function ctp(entityId: string) {
  return (await p.call('GET', `/v1/ctp/entities/${entityId}`)).body as {
    ctpEntityStatus: string;
    clickToPayCustomerId: string | null;
    kits: { kitNo: string; ctpKitStatus: string; clickToPayPaymentInstrumentId: string | null }[];
  };
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const kitOf = (view: Awaited<ReturnType<typeof ctp>>, kitNo: string) =>
  view.kits.find((k) => k.kitNo === kitNo);

describe('the six CTP events', () => {
  it('register, add a kit, sync both, remove a kit, remove the entity: statuses, ids, network and stream agree', async () => {
    await p.customer('e-life', ['k-life-1', 'k-life-2']);

    const registered = await run('POST', '/v1/ctp/entities/e-life/registration', { kitNo: 'k-life-1' });
    expect(registered).toMatchObject({
      status: 'SUCCESS',
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      kitNo: 'k-life-1',
    });
    let view = await ctp('e-life');
    expect(view.ctpEntityStatus).toBe('ACTIVE');
    expect(kitOf(view, 'k-life-1')).toMatchObject({ ctpKitStatus: 'ACTIVE' });
    expect(kitOf(view, 'k-life-2')).toMatchObject({ ctpKitStatus: 'UNREGISTERED' });
    const network = (await p.call('GET', '/v1/ctp/entities/e-life/network')).body as {
      clickToPayCustomerId: string;
      paymentInstruments: {
        externalInstrumentId: string;
        clickToPayPaymentInstrumentId: string;
        status: string;
      }[];
    };
    expect(network.clickToPayCustomerId).toBe(view.clickToPayCustomerId);
    expect(network.paymentInstruments[0]).toMatchObject({
      externalInstrumentId: 'k-life-1',
      clickToPayPaymentInstrumentId: kitOf(view, 'k-life-1')?.clickToPayPaymentInstrumentId,
      status: 'ACTIVE',
    });
    expect(JSON.stringify(network)).not.toContain('4111111111111111');

    expect(await run('POST', '/v1/ctp/entities/e-life/kits', { kitNo: 'k-life-2' })).toMatchObject({
      status: 'SUCCESS',
    });
    expect(kitOf(await ctp('e-life'), 'k-life-2')).toMatchObject({ ctpKitStatus: 'ACTIVE' });

    // A profile change syncs by itself (automatic update); a manual sync is refused while it runs.
    await p.call('PATCH', '/v1/entities/e-life', { firstName: 'Aysha' });
    await until(
      async () =>
        (await p.notifications()).filter(
          (n) =>
            n.payload.transactionType === 'CTP_UPDATE_ENTITY' &&
            n.payload.serverNotifyData.entityId === 'e-life',
        ).length === 1,
    );
    expect(await run('POST', '/v1/ctp/entities/e-life/sync')).toMatchObject({
      status: 'SUCCESS',
      event: 'CTP_UPDATE_ENTITY',
    });
    expect(await run('POST', '/v1/ctp/entities/e-life/kits/k-life-2/sync')).toMatchObject({
      status: 'SUCCESS',
      event: 'CTP_UPDATE_KIT',
    });
    const synced = (await p.call('GET', '/v1/ctp/entities/e-life/network')).body as {
      consumer: { firstName: string };
    };
    expect(synced.consumer.firstName).toBe('Aysha');

    expect(await run('DELETE', '/v1/ctp/entities/e-life/kits/k-life-2')).toMatchObject({
      status: 'SUCCESS',
      event: 'CTP_REMOVE_KIT',
    });
    expect(kitOf(await ctp('e-life'), 'k-life-2')).toMatchObject({ ctpKitStatus: 'REMOVED' });

    expect(await run('DELETE', '/v1/ctp/entities/e-life')).toMatchObject({
      status: 'SUCCESS',
      event: 'CTP_REMOVE_ENTITY',
    });
    view = await ctp('e-life');
    expect(view.ctpEntityStatus).toBe('REMOVED');
    expect(view.kits.map((k) => k.ctpKitStatus)).toEqual(['REMOVED', 'REMOVED']);
    const removed = (await p.call('GET', '/v1/ctp/entities/e-life/network')).body as { status: string };
    expect(removed.status).toBe('REMOVED');

    // Exactly one notification per outcome, in the seed's shape, with the operation id as notificationId.
    const entries = (await p.notifications()).filter((n) => n.payload.serverNotifyData.entityId === 'e-life');
    expect(entries.map((n) => n.payload.transactionType)).toEqual([
      'CTP_REGISTER_ENTITY_AND_KIT',
      'CTP_ADD_KIT',
      'CTP_UPDATE_ENTITY',
      'CTP_UPDATE_ENTITY',
      'CTP_UPDATE_KIT',
      'CTP_REMOVE_KIT',
      'CTP_REMOVE_ENTITY',
    ]);
    expect(new Set(entries.map((n) => n.notificationId)).size).toBe(7);
    expect(entries[0]?.payload).toEqual({
      business: TENANT,
      transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
      serverNotifyData: {
        entityId: 'e-life',
        kitNo: 'k-life-1',
        requestTraceId: registered.requestTraceId,
        requestStatus: 'SUCCESS',
        transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
        ctpEntityStatus: 'ACTIVE',
        ctpKitStatus: 'ACTIVE',
        ctpEntityId: network.clickToPayCustomerId,
        ctpKitId: network.paymentInstruments[0]?.clickToPayPaymentInstrumentId,
        tenant: TENANT,
        operationId: registered.operationId,
      },
    });
    expect(entries[0]?.notificationId).toBe(registered.operationId);
  });

  it('a rejected registration fails, reverts to UNREGISTERED and notifies the failure', async () => {
    await p.customer('e-rej', ['k-rej']);
    p.sim.simulator.setFaults({ rejectionRate: 1 });
    const failed = await run('POST', '/v1/ctp/entities/e-rej/registration', { kitNo: 'k-rej' });
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: { code: 'REQUEST_REJECTED', message: 'Request Rejected' },
    });
    const view = await ctp('e-rej');
    expect(view).toMatchObject({ ctpEntityStatus: 'UNREGISTERED', clickToPayCustomerId: null });
    expect(kitOf(view, 'k-rej')?.ctpKitStatus).toBe('UNREGISTERED');
    const trace = await p.call('GET', `/v1/ctp/traces/${String(failed.requestTraceId)}`);
    expect(trace.body).toMatchObject({
      statusCtp: 'FAILED',
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      kitNumber: 'k-rej',
    });
    const entry = (await p.notifications()).find((n) => n.notificationId === failed.operationId);
    expect(entry?.payload).toMatchObject({
      transactionType: 'CTP_REGISTER_ENTITY_AND_KIT',
      serverNotifyData: {
        entityId: 'e-rej',
        requestStatus: 'FAILED',
        message: 'CTP FAILURE: Request Rejected',
        tenant: TENANT,
      },
    });
  });

  it('a failed removal puts the entity and its kits back to ACTIVE', async () => {
    await p.customer('e-rm', ['k-rm']);
    await run('POST', '/v1/ctp/entities/e-rm/registration', { kitNo: 'k-rm' });
    p.sim.simulator.setFaults({ rejectionRate: 1 });
    expect(await run('DELETE', '/v1/ctp/entities/e-rm')).toMatchObject({ status: 'FAILED' });
    const view = await ctp('e-rm');
    expect(view.ctpEntityStatus).toBe('ACTIVE');
    expect(kitOf(view, 'k-rm')?.ctpKitStatus).toBe('ACTIVE');
  });

  it('a request the SaaS refuses outright (409) fails from QUEUED without a trace, and says why', async () => {
    await p.customer('e-409', ['k-409']);
    await run('POST', '/v1/ctp/entities/e-409/registration', { kitNo: 'k-409' });
    // The network removes the instrument by itself and its webhook is lost: our removal is refused.
    p.sim.simulator.setFaults({ webhookDropRate: 1 });
    p.sim.simulator.setInstrumentStatus(TENANT, 'e-409', 'k-409', 'REMOVED');
    p.sim.simulator.setFaults({ webhookDropRate: 0 });
    expect(kitOf(await ctp('e-409'), 'k-409')?.ctpKitStatus).toBe('ACTIVE');
    const failed = await run('DELETE', '/v1/ctp/entities/e-409/kits/k-409');
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'CONFLICT' } });
    expect(failed.requestTraceId).toBeUndefined();
    expect(kitOf(await ctp('e-409'), 'k-409')?.ctpKitStatus).toBe('ACTIVE');
    const entry = (await p.notifications()).find((n) => n.notificationId === failed.operationId);
    expect(entry?.payload.serverNotifyData).toMatchObject({ requestStatus: 'FAILED', kitNo: 'k-409' });
    expect(entry?.payload.serverNotifyData).not.toHaveProperty('requestTraceId');
  });

  it('a network-driven change applies and is notified as CTP_STATUS_CHANGED, once', async () => {
    await p.customer('e-net', ['k-net']);
    await run('POST', '/v1/ctp/entities/e-net/registration', { kitNo: 'k-net' });
    p.sim.simulator.setInstrumentStatus(TENANT, 'e-net', 'k-net', 'DISABLED');
    const deadline = Date.now() + 10_000;
    while (kitOf(await ctp('e-net'), 'k-net')?.ctpKitStatus !== 'DISABLED') {
      if (Date.now() > deadline) throw new Error('the kit never became DISABLED');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The relay publishes after the commit: wait for the entry, then make sure it is the only one.
    const statusChanges = async () =>
      (await p.notifications()).filter(
        (n) =>
          n.payload.transactionType === 'CTP_STATUS_CHANGED' &&
          n.payload.serverNotifyData.entityId === 'e-net',
      );
    await until(async () => (await statusChanges()).length > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const changes = await statusChanges();
    expect(changes).toHaveLength(1);
    expect(changes[0]?.payload.serverNotifyData).toMatchObject({ kitNo: 'k-net', ctpKitStatus: 'DISABLED' });
  });

  it('wrote no secret and no card number in any log line of the run', async () => {
    const text = p.logLines.join('');
    expect(text.length).toBeGreaterThan(1000);
    const secrets = [
      p.workerEnv.CTP_SAAS_API_KEY,
      p.workerEnv.CTP_WEBHOOK_SECRET,
      p.workerEnv.CTP_WEBHOOK_SECRET?.slice('whsec_'.length),
      p.workerEnv.PAN_ENCRYPTION_KEY,
      ...loadConfig({}).API_KEYS.map(({ key }) => key),
    ];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(findPans(text)).toEqual([]);
  });
});

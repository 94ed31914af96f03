import { expect } from 'vitest';
import type { Pipeline } from './harness.ts';

/**
 * A batch of registrations driven through the api, then the checks every resolution path must
 * pass: each operation ended SUCCESS, our ids equal the network's, the simulator started each
 * operation's work once, and each outcome has exactly one notification id on the stream.
 */
export async function registerMany(p: Pipeline, prefix: string, count: number): Promise<string[]> {
  const operationIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const entityId = `${prefix}-${i}`;
    await p.customer(entityId, [`${entityId}-k`]);
    const accepted = await p.call('POST', `/v1/ctp/entities/${entityId}/registration`, {
      kitNo: `${entityId}-k`,
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    operationIds.push(String(accepted.body.operationId));
  }
  return operationIds;
}

export async function expectAllSucceededOnce(
  p: Pipeline,
  operationIds: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  for (const id of operationIds) {
    const view = await p.settled(id, timeoutMs);
    expect(view.status, JSON.stringify(view)).toBe('SUCCESS');
    const ours = (await p.call('GET', `/v1/ctp/entities/${String(view.entityId)}`)).body as {
      ctpEntityStatus: string;
      clickToPayCustomerId: string;
      kits: { ctpKitStatus: string; clickToPayPaymentInstrumentId: string }[];
    };
    // The network's truth from the simulator's own state: the SaaS routes may be faulty on purpose.
    const network = p.sim.simulator
      .state()
      .tenants.ENBDTABBY?.consumers.find((c) => c.externalConsumerId === view.entityId);
    expect(ours.ctpEntityStatus).toBe('ACTIVE');
    expect(network).toMatchObject({
      clickToPayCustomerId: ours.clickToPayCustomerId,
      status: 'ACTIVE',
      paymentInstruments: [
        { clickToPayPaymentInstrumentId: ours.kits[0]?.clickToPayPaymentInstrumentId, status: 'ACTIVE' },
      ],
    });
  }
  const work = p.sim.simulator.state().counters.work.byIdempotencyKey.ENBDTABBY ?? {};
  for (const id of operationIds) expect(work[id], `work started for ${id}`).toBe(1);
  const entries = await p.waitForNotifications(operationIds.length);
  for (const id of operationIds) {
    const mine = entries.filter(
      (n) => 'operationId' in n.payload.serverNotifyData && n.payload.serverNotifyData.operationId === id,
    );
    expect(new Set(mine.map((n) => n.notificationId)), `notification ids of ${id}`).toEqual(new Set([id]));
  }
}

import { CtpPendingSync } from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// Found by the chaos suite: the SaaS did the work but the answer was lost; the profile changed
// before the retry; a retry built from the new profile was another request under the same
// Idempotency-Key (422), the operation failed and reverted while the network had enrolled the
// customer. Every attempt must send the request as it was when the operation started.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ env: { TRACE_FIRST_POLL_MS: '300' } });
});
afterAll(async () => {
  await p.close();
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a retry after a lost answer', () => {
  it('sends the first request again even when the profile changed in between, then syncs the change', async () => {
    await p.customer('fr-e', ['fr-k']);
    p.sim.simulator.setFaults({ lostAnswerRate: 1 });
    const accepted = await p.call('POST', '/v1/ctp/entities/fr-e/registration', { kitNo: 'fr-k' });
    const operationId = String(accepted.body.operationId);
    // The SaaS has done the work; our worker only saw a 5xx and will retry.
    await until(
      () => (p.sim.simulator.state().counters.work.byIdempotencyKey[TENANT]?.[operationId] ?? 0) === 1,
    );
    expect((await p.call('PATCH', '/v1/entities/fr-e', { firstName: 'Changed' })).status).toBe(200);
    p.sim.simulator.setFaults({ lostAnswerRate: 0 });

    expect(await p.settled(operationId)).toMatchObject({ status: 'SUCCESS' });
    expect(p.sim.simulator.state().counters.violations.idempotencyKeyReused).toBe(0);
    await until(async () => (await p.db.orm.em.fork().count(CtpPendingSync, { entityId: 'fr-e' })) === 0);
    await until(
      () =>
        p.sim.simulator.state().tenants[TENANT]?.consumers.find((c) => c.externalConsumerId === 'fr-e')
          ?.consumer.firstName === 'Changed',
    );
    expect((await p.call('GET', '/v1/ctp/entities/fr-e')).body).toMatchObject({ ctpEntityStatus: 'ACTIVE' });
  });

  it('refuses a new PAN for a card whose operation has not been accepted yet', async () => {
    await p.customer('fr-pan', ['fr-pan-k']);
    p.sim.simulator.setFaults({ rate5xx: 1 });
    const accepted = await p.call('POST', '/v1/ctp/entities/fr-pan/registration', { kitNo: 'fr-pan-k' });
    const reissue = await p.call('PUT', '/v1/entities/fr-pan/kits/fr-pan-k', {
      pan: '4012888888881881',
      expiry: { month: '12', year: '2030' },
      nameOnCard: 'AISHA KHAN',
    });
    expect(reissue.status).toBe(409);
    expect(reissue.body).toMatchObject({ error: { code: 'OPERATION_IN_PROGRESS' } });
    p.sim.simulator.setFaults({ rate5xx: 0 });
    expect(await p.settled(String(accepted.body.operationId))).toMatchObject({ status: 'SUCCESS' });
  });
});

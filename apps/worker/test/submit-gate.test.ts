import { CtpOperation } from '@ctp/core/entities';
import { submitOperation } from '@ctp/core/operations';
import { SaasClient } from '@ctp/core/saas';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY } from '../../saas-sim/src/testing.ts';
import { decryptPan, queuedRegistration, requestsAtSaas } from './fixtures.ts';

/**
 * The submit step reads its operation while the worker's take of the tenant's SaaS rate (the
 * gate) is pending, and sends nothing before the gate passes. A gate that refuses (the job was
 * put back as delayed) stops the submission and is what the step throws, even when the read
 * failed too. The SaaS is the real simulator over HTTP; its request counters tell what reached it.
 */

const T = 'ENBDTABBY';
let db: TestDatabase;
let sim: RunningSimulator;
let saas: SaasClient;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  saas = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY, timeoutMs: 5_000 });
});
afterAll(async () => {
  await saas?.close();
  await sim?.close();
  await db?.drop();
});

const deps = () => ({ em: db.orm.em, saas, decryptPan, firstPollAfterMs: 60_000 });

const requests = () => requestsAtSaas(sim);
const queued = (entityId: string) => queuedRegistration(db.orm, T, entityId);

const statusOf = async (id: string) =>
  (await db.orm.em.fork().findOneOrFail(CtpOperation, { id }, { refresh: true })).status;

class Delayed extends Error {
  override readonly name = 'Delayed';
}

describe('the submit step behind its gate', () => {
  it('sends nothing until the gate passes, then submits', async () => {
    const id = await queued('gate-open');
    const before = requests();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let settled = false;
    const submitting = submitOperation(deps(), id, gate).finally(() => {
      settled = true;
    });
    // Long enough for the read (one statement on an idle database) to be done many times over.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect(requests()).toBe(before);
    open();
    expect(await submitting).toBe('submitted');
    expect(requests()).toBe(before + 1);
    expect(await statusOf(id)).toBe('IN_PROGRESS');
  });

  it('a refusing gate stops the submission: its error, nothing sent, the operation still QUEUED', async () => {
    const id = await queued('gate-shut');
    const before = requests();
    await expect(submitOperation(deps(), id, Promise.reject(new Delayed('rate')))).rejects.toBeInstanceOf(
      Delayed,
    );
    expect(requests()).toBe(before);
    expect(await statusOf(id)).toBe('QUEUED');
  });

  it("a refusing gate wins over a failed read: the job's delay is what is reported", async () => {
    const before = requests();
    // Not a uuid: PostgreSQL refuses the read's parameter.
    const gate = new Promise<void>((_, reject) => setTimeout(() => reject(new Delayed('rate')), 100));
    await expect(submitOperation(deps(), 'not-a-uuid', gate)).rejects.toBeInstanceOf(Delayed);
    // The same read behind an open gate fails with the database's error.
    await expect(submitOperation(deps(), 'not-a-uuid', Promise.resolve())).rejects.not.toBeInstanceOf(
      Delayed,
    );
    expect(requests()).toBe(before);
  });
});

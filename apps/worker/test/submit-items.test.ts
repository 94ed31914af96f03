import { CtpOperation } from '@ctp/core/entities';
import { requestOperation, submitItemsJobs } from '@ctp/core/operations';
import { JOBS, jobIdFor, QUEUE_NAMES, SUBMIT_ITEMS_MAX } from '@ctp/core/queues';
import { DEFAULT_CTP_SETTINGS, replaceCtpSettings } from '@ctp/core/settings';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY } from '../../saas-sim/src/testing.ts';
import { seedEntity } from './fixtures.ts';
import { eventually, type RuntimeHarness, startRuntime, testConfig } from './harness.ts';

/**
 * Batch operations are submitted a few a job (`submit-items`): the rows of one publication are
 * grouped per tenant, each job submits its operations side by side, and an item the tenant's rate
 * or a transient SaaS error holds back goes on in a `submit` job of its own. Real worker runtime,
 * PostgreSQL, Redis and the simulator over HTTP; the simulator's per-key counts say how often each
 * operation's work started at the network.
 */

let db: TestDatabase;
let sim: RunningSimulator;
let harness: RuntimeHarness;
let events: QueueEvents;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  const config = testConfig(db, sim.url, { CTP_SAAS_API_KEY: TEST_API_KEY });
  harness = await startRuntime(db, config);
  events = new QueueEvents(QUEUE_NAMES.operations, {
    connection: harness.redis.duplicate(),
    prefix: harness.prefix,
  });
  await events.waitUntilReady();
});
afterAll(async () => {
  await events?.close();
  await harness?.close();
  await sim?.close();
  await db?.drop();
});

const queue = () => harness.runtime.queues[QUEUE_NAMES.operations];

/** `count` customers with a card each, their registrations started as batch items, together. */
async function batchRegistrations(tenant: string, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) await seedEntity(db.orm, tenant, id, [`${id}-k`]);
  const started = await Promise.all(
    ids.map((entityId) =>
      requestOperation(db.orm.em, {
        tenant,
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        entityId,
        kitNo: `${entityId}-k`,
        batchItem: true,
      }),
    ),
  );
  return started.map(({ operation }) => operation.id);
}

/** How many times the SaaS started each operation's work (its `Idempotency-Key`). */
const workStarted = (tenant: string, operationIds: readonly string[]) => {
  const byKey = sim.simulator.state().counters.work.byIdempotencyKey[tenant] ?? {};
  return operationIds.map((id) => byKey[id] ?? 0);
};

const statuses = async (ids: readonly string[]) =>
  (await db.orm.em.fork().find(CtpOperation, { id: { $in: [...ids] } }, { refresh: true })).map(
    (o) => o.status,
  );

const allSubmitted = (ids: readonly string[]) => async () => {
  const now = await statuses(ids);
  return now.length === ids.length && now.every((s) => s !== 'QUEUED');
};

/** The operations named by `submit-items` jobs of the queue, by job. */
async function itemsJobs(): Promise<string[][]> {
  const jobs = await queue().getJobs(['completed', 'active', 'waiting', 'delayed', 'failed']);
  return jobs
    .filter((job) => job.name === JOBS.submitItems.name)
    .map((job) => (job.data as { operationIds: string[] }).operationIds);
}

const ownJob = (operationId: string) => queue().getJob(jobIdFor('submit', operationId));

describe('grouping batch operations into submit-items jobs', () => {
  it(`a tenant's operations, at most ${SUBMIT_ITEMS_MAX} a job, in order; tenants apart; the same group, the same job id`, () => {
    const ids = Array.from(
      { length: SUBMIT_ITEMS_MAX + 1 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const items = [
      ...ids.map((operationId) => ({ tenant: 'A', operationId })),
      { tenant: 'B', operationId: ids[0] as string },
    ];
    const jobs = submitItemsJobs(items);
    expect(jobs.map((job) => job.data)).toEqual([
      { tenant: 'A', operationIds: ids.slice(0, SUBMIT_ITEMS_MAX) },
      { tenant: 'A', operationIds: ids.slice(SUBMIT_ITEMS_MAX) },
      { tenant: 'B', operationIds: [ids[0]] },
    ]);
    for (const job of jobs) expect(JOBS.submitItems.payload.safeParse(job.data).success).toBe(true);
    const again = submitItemsJobs(items);
    expect(again.map((job) => job.opts?.jobId)).toEqual(jobs.map((job) => job.opts?.jobId));
    expect(new Set(jobs.map((job) => job.opts?.jobId)).size).toBe(3);
    // The same operations grouped otherwise are another job.
    expect(submitItemsJobs(items.slice(1))[0]?.opts?.jobId).not.toBe(jobs[0]?.opts?.jobId);
  });
});

describe('submit-items jobs in the worker', () => {
  it('submits every batch operation once, in shared jobs, none of them in a job of its own', async () => {
    const ids = await batchRegistrations('ENBDTABBY', 'si-all', 20);
    await eventually(allSubmitted(ids), 'every batch operation submitted');
    expect(workStarted('ENBDTABBY', ids)).toEqual(ids.map(() => 1));
    const jobs = (await itemsJobs()).filter((group) => group.some((id) => ids.includes(id)));
    expect(jobs.flat().sort()).toEqual([...ids].sort());
    expect(jobs.length).toBeLessThan(ids.length);
    for (const id of ids) expect(await ownJob(id)).toBeUndefined();

    // The same operations in a job again (a regrouped publication after a crash): nothing more
    // is sent, each found no longer QUEUED.
    const rerun = await queue().add(JOBS.submitItems.name, {
      tenant: 'ENBDTABBY',
      operationIds: ids.slice(0, 5),
    });
    expect(await rerun.waitUntilFinished(events)).toEqual({ 'not-queued': 5 });
    expect(workStarted('ENBDTABBY', ids)).toEqual(ids.map(() => 1));
  });

  it("items over the tenant's rate go on in delayed jobs of their own, and are submitted once", async () => {
    const tenant = 'DEMOBANK';
    await replaceCtpSettings(db.orm.em, {
      tenant,
      actor: 'test',
      settings: { ...DEFAULT_CTP_SETTINGS, saasRatePerSecond: 2 },
    });
    const ids = await batchRegistrations(tenant, 'si-rate', 6);
    await eventually(allSubmitted(ids), 'every operation submitted at 2/s', 30_000);
    expect(workStarted(tenant, ids)).toEqual(ids.map(() => 1));
    const handedOff = (await Promise.all(ids.map(ownJob))).filter((job) => job !== undefined);
    // At most two a second pass: six within a second or two leave at least two for later.
    expect(handedOff.length).toBeGreaterThanOrEqual(2);
    for (const job of handedOff) expect(job?.name).toBe(JOBS.submit.name);
  });

  it('items the SaaS refuses for now (5xx) go on in jobs of their own with backoff, and are submitted once', async () => {
    sim.simulator.setFaults({ rate5xx: 1 });
    const ids = await batchRegistrations('ENBDTABBY', 'si-5xx', 4);
    await eventually(
      async () => (await Promise.all(ids.map(ownJob))).every((job) => job !== undefined),
      'every item handed to a job of its own',
    );
    expect(await statuses(ids)).toEqual(ids.map(() => 'QUEUED'));
    sim.simulator.setFaults({ rate5xx: 0 });
    await eventually(allSubmitted(ids), 'every operation submitted once the SaaS answers', 30_000);
    expect(workStarted('ENBDTABBY', ids)).toEqual(ids.map(() => 1));
  });
});

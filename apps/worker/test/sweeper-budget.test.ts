import { CtpOperation } from '@ctp/core/entities';
import { requestOperation } from '@ctp/core/operations';
import { JOBS, jobIdFor, QUEUE_NAMES } from '@ctp/core/queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../saas-sim/src/testing.ts';
import { requestsAtSaas, seedEntity } from './fixtures.ts';
import { eventually, type RuntimeHarness, startRuntime, testConfig } from './harness.ts';

/**
 * Item 11: the sweeper re-drives a failed submit job only while it is still retryable: within a
 * budget (`SWEEP_MAX_REDRIVES`, counted in PostgreSQL), with backoff between re-drives.
 */

const T = 'ENBDTABBY';
let db: TestDatabase;
let sim: RunningSimulator;
let harness: RuntimeHarness;
let operationId = '';

beforeAll(async () => {
  db = await createTestDatabase();
  // Every answer of this SaaS is a 5xx: a transient failure that never ends.
  sim = await startSimulator({ faults: { rate5xx: 1 } });
  const config = testConfig(db, sim.url, { SWEEP_STALE_MS: '60000', SWEEP_MAX_REDRIVES: '2' });
  await seedEntity(db.orm, T, 'sb-down', ['sb-down-k']);
  ({
    operation: { id: operationId },
  } = await requestOperation(db.orm.em, {
    tenant: T,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId: 'sb-down',
    kitNo: 'sb-down-k',
  }));
  // Its submit job gets one attempt per run (instead of ~25 over an hour), added before the
  // worker starts: the relay's add under the same job id is then a no-op.
  const queue = new Queue(QUEUE_NAMES.operations, {
    connection: { url: config.REDIS_URL },
    prefix: config.QUEUE_PREFIX,
  });
  await queue.add(
    JOBS.submit.name,
    { operationId, tenant: T },
    { jobId: jobIdFor('submit', operationId), attempts: 1 },
  );
  await queue.close();
  harness = await startRuntime(db, config);
});

afterAll(async () => {
  await harness?.close();
  await sim?.close();
  await db?.drop();
});

const operation = () => db.orm.em.fork().findOneOrFail(CtpOperation, { id: operationId }, { refresh: true });

async function jobState() {
  const job = await harness.runtime.queues[JOBS.submit.queue].getJob(jobIdFor('submit', operationId));
  return job ? await job.getState() : 'missing';
}

const submissions = () => requestsAtSaas(sim);

/** The operation looks stale, and so does its last re-drive (backoff passed). */
const ageEverything = () =>
  db.orm.em.fork().execute(
    `update ctp_operation set updated_at = now() - interval '1 hour',
              last_redriven_at = case when last_redriven_at is null then null else now() - interval '1 day' end
        where id = ?`,
    [operationId],
  );

describe('the sweeper and a transient failure', () => {
  it('re-drives a failed submit job within its budget, with backoff, then leaves it to an operator', async () => {
    await eventually(async () => (await jobState()) === 'failed', 'the submit job to fail');
    await ageEverything();

    // First re-drive: the job runs again (its attempts start over) and fails again.
    await harness.runMaintenance('sweep');
    expect(await operation()).toMatchObject({ status: 'QUEUED', redrives: 1 });
    await eventually(async () => (await jobState()) === 'failed', 'the re-driven job to fail');

    // Backoff: right after a re-drive, no other one, though the job failed again.
    const calls = submissions();
    await harness.runMaintenance('sweep');
    expect(await operation()).toMatchObject({ redrives: 1 });
    expect(await jobState()).toBe('failed');
    expect(submissions()).toBe(calls);

    // Once the backoff has passed: the second and last re-drive of the budget.
    await ageEverything();
    await harness.runMaintenance('sweep');
    expect(await operation()).toMatchObject({ redrives: 2 });
    await eventually(async () => (await jobState()) === 'failed', 'the re-driven job to fail');

    // Budget spent: never again, however long it waits. It stays QUEUED with its failed job,
    // shown as stuck on the dashboard, where an operator can retry it.
    await ageEverything();
    const spent = submissions();
    await harness.runMaintenance('sweep');
    await harness.runMaintenance('sweep');
    expect(await operation()).toMatchObject({ status: 'QUEUED', redrives: 2 });
    expect(await jobState()).toBe('failed');
    expect(submissions()).toBe(spent);
  });

  it('re-creates a job lost with Redis without spending the budget', async () => {
    await seedEntity(db.orm, T, 'sb-lost', ['sb-lost-k']);
    const { operation: lost } = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'sb-lost',
      kitNo: 'sb-lost-k',
    });
    const queue = harness.runtime.queues[JOBS.submit.queue];
    const jobId = jobIdFor('submit', lost.id);
    // Its first attempt met the 5xx; the job waits for its next one, and is then lost.
    await eventually(async () => (await (await queue.getJob(jobId))?.getState()) === 'delayed', 'a retry');
    await (await queue.getJob(jobId))?.remove();
    await db.orm.em
      .fork()
      .execute(`update ctp_operation set updated_at = now() - interval '1 hour' where id = ?`, [lost.id]);
    await harness.runMaintenance('sweep');
    expect(await queue.getJob(jobId)).toBeDefined();
    expect(await db.orm.em.fork().findOneOrFail(CtpOperation, { id: lost.id })).toMatchObject({
      status: 'QUEUED',
      redrives: 0,
    });
  });
});

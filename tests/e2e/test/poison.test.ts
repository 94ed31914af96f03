import { createRedis, QUEUE_NAMES } from '@ctp/core/queues';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../src/harness.ts';
import { expectAllSucceededOnce, registerMany } from '../src/scenario.ts';

// A poisoned job (a payload that does not match its schema) fails once, with a clear reason,
// and the worker goes on with the next job.

let p: Pipeline;
let queue: Queue;

beforeAll(async () => {
  p = await startPipeline();
  queue = new Queue(QUEUE_NAMES.operations, {
    connection: createRedis(p.config.REDIS_URL),
    prefix: p.config.QUEUE_PREFIX,
  });
});
afterAll(async () => {
  await queue.close();
  await p.close();
});

describe('a poisoned job payload', () => {
  it('goes to the failed set with the reason, without retries, and does not stop the worker', async () => {
    const poisoned = await queue.add('submit', {
      operationId: 'not-a-uuid',
      tenant: 42,
      pan: '4111111111111111',
    });
    const deadline = Date.now() + 10_000;
    while ((await poisoned.getState()) !== 'failed') {
      if (Date.now() > deadline) throw new Error(`the poisoned job is ${await poisoned.getState()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const failed = await queue.getJob(String(poisoned.id));
    expect(failed?.failedReason).toMatch(/^invalid job payload: operationId, tenant/);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).not.toContain('4111111111111111');
    await expectAllSucceededOnce(p, await registerMany(p, 'after-poison', 2));
  });
});

import { findPans } from '@ctp/core/cards';
import { CtpOperation } from '@ctp/core/entities';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../src/harness.ts';
import { expectAllSucceededOnce, registerMany } from '../src/scenario.ts';
import { spawnWorker, type WorkerProcess } from '../src/worker-process.ts';

// Kill the worker process (SIGKILL) in the middle of a batch, twice, start it again: every
// operation ends, the simulator counted each piece of work once, one notification id per outcome.

let p: Pipeline;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  p = await startPipeline({
    inProcessWorker: false,
    env: {
      TRACE_FIRST_POLL_MS: '300',
      WORKER_LOCK_DURATION_MS: '2000',
      SWEEP_STALE_MS: '2000',
      WORKER_CONCURRENCY: '8',
    },
  });
});
afterAll(async () => {
  for (const worker of workers) await worker.kill().catch(() => undefined);
  await p.close();
});

async function settledCount(ids: readonly string[]): Promise<number> {
  return p.db.orm.em
    .fork()
    .count(CtpOperation, { id: { $in: [...ids] }, status: { $in: ['SUCCESS', 'FAILED'] } });
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a worker killed mid-batch', () => {
  it('loses nothing and does nothing twice', async () => {
    // Slow answers keep many submissions and resolutions in flight when the kill lands.
    p.sim.simulator.setFaults({ latencyMs: { min: 40, max: 120 } });
    const ids = await registerMany(p, 'crash', 24);

    for (const target of [4, 12]) {
      const worker = spawnWorker(p.workerEnv);
      workers.push(worker);
      await until(async () => (await settledCount(ids)) >= target, 30_000);
      await worker.kill();
    }
    expect(await settledCount(ids)).toBeLessThan(ids.length);

    const survivor = spawnWorker(p.workerEnv);
    workers.push(survivor);
    await expectAllSucceededOnce(p, ids, 60_000);
    expect(await survivor.stop()).toBe(0);
    expect(findPans(workers.flatMap((w) => w.output).join(''))).toEqual([]);
  });
});

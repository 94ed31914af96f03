import { createLogger } from '@ctp/core/logging';
import { queryBound } from '@ctp/core/operations';
import { QUEUE_NAMES } from '@ctp/core/queues';
import { startWorkerRuntime, type WorkerRuntime } from '@ctp/worker/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// The reconciliation schedule with two workers running: one job scheduler whichever worker
// upserts it, every entity on CTP checked once per period, spread over it (a short period here).

const PERIOD_MS = 4_000;
const ENTITIES = 8;
let p: Pipeline;
let second: WorkerRuntime;

beforeAll(async () => {
  p = await startPipeline({ env: { RECONCILE_PERIOD: `${PERIOD_MS}ms`, RECONCILE_TICK_MS: '100' } });
  second = await startWorkerRuntime({
    config: p.config,
    orm: p.db.orm,
    logger: createLogger({ name: 'second-worker', level: 'silent' }),
  });
});
afterAll(async () => {
  await second.close();
  await p.close();
});

interface Item {
  reconciliation_id: string;
  entity_id: string;
  outcome: string | null;
  checked_at: Date | null;
  created_at: Date;
  completed_at: Date | null;
}

const scheduledItems = () =>
  queryBound<Item>(
    p.db.orm.em.fork(),
    `select i.reconciliation_id::text as reconciliation_id, i.entity_id, i.outcome, i.checked_at, r.created_at, r.completed_at
       from ctp_reconciliation r join ctp_reconciliation_item i on i.reconciliation_id = r.id
      where r.trigger = 'SCHEDULE' and r.tenant = ? order by r.created_at, i.position`,
    [TENANT],
  );

describe('the reconciliation schedule', () => {
  it('has one job scheduler however many workers upserted it', async () => {
    const schedulers = await second.queues[QUEUE_NAMES.maintenance].getJobSchedulers();
    expect(schedulers.filter((s) => s.key === 'reconcile')).toHaveLength(1);
  });

  it('checks every entity on CTP once per period, spread over it, with two workers', async () => {
    const ids = Array.from({ length: ENTITIES }, (_, i) => `e-sched-${i}`);
    const operations: string[] = [];
    for (const id of ids) {
      await p.customer(id, [`k-${id}`]);
      const accepted = await p.call('POST', `/v1/ctp/entities/${id}/registration`, { kitNo: `k-${id}` });
      operations.push(String(accepted.body.operationId));
    }
    for (const operationId of operations) expect((await p.settled(operationId)).status).toBe('SUCCESS');
    const allEnrolledAt = Date.now();

    // The first period that started with every entity on CTP, completed.
    const deadline = Date.now() + 4 * PERIOD_MS;
    let run: Item[] = [];
    for (;;) {
      const byRun = Map.groupBy(await scheduledItems(), (item) => item.reconciliation_id);
      run =
        [...byRun.values()].find(
          (items) =>
            items.length === ENTITIES &&
            items[0] !== undefined &&
            new Date(items[0].created_at).getTime() >= allEnrolledAt - 200 &&
            items[0].completed_at !== null,
        ) ?? [];
      if (run.length > 0) break;
      if (Date.now() > deadline)
        throw new Error(`no complete period: ${JSON.stringify([...byRun.values()])}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Each entity once (one item each, checked, agreed), within the period.
    expect(run.map((item) => item.entity_id).sort()).toEqual([...ids].sort());
    expect(run.every((item) => item.outcome === 'AGREED')).toBe(true);
    const started = new Date(run[0]?.created_at ?? 0).getTime();
    const checks = run
      .map((item) => new Date(item.checked_at ?? 0).getTime() - started)
      .sort((a, b) => a - b);
    expect(Math.max(...checks)).toBeLessThanOrEqual(PERIOD_MS);
    // Spread evenly: the k-th of n is due at k/n of 0.9 of the period; none before its time.
    checks.forEach((at, k) => {
      expect(at).toBeGreaterThanOrEqual(((k + 1) / ENTITIES) * 0.9 * PERIOD_MS - 50);
    });
    expect(checks.at(-1) ?? 0).toBeGreaterThan(0.5 * PERIOD_MS);
  });
});

import { createHash, randomUUID } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { DomainError } from '../errors/domain-error.ts';
import { SqlSession } from '../operations/sql-session.ts';
import { type CheckResult, type ReconcileDependencies, reconcileEntity } from './check.ts';
import {
  claimItems,
  completeFinishedRuns,
  ensureSchedules,
  findRunByIdempotencyKey,
  insertRequestedRun,
  itemCheckedStatements,
  knownEntityIds,
  type RunningRun,
  runningRuns,
} from './store.ts';

export interface ReconcileRequest {
  readonly tenant: string;
  /** Absent: every entity of the tenant on CTP. */
  readonly entityIds?: readonly string[] | undefined;
  readonly dryRun?: boolean | undefined;
  readonly idempotencyKey?: string | undefined;
}

/**
 * `POST /v1/ctp/reconciliations`: records the reconciliation and its entities in one statement;
 * the workers' ticks check them (PostgreSQL holds the work, so a crash loses none of it). An id
 * that is not the tenant's (unknown, or another tenant's) refuses the whole request with `404`,
 * nothing written. The same `Idempotency-Key` with the same request answers the first
 * reconciliation; with another, `422 IDEMPOTENCY_KEY_REUSED`.
 */
export async function startReconciliation(
  em: EntityManager,
  request: ReconcileRequest,
): Promise<{ reconciliationId: string; replayed: boolean }> {
  const entityIds = request.entityIds === undefined ? null : [...new Set(request.entityIds)];
  const dryRun = request.dryRun ?? false;
  const requestHash = createHash('sha256')
    .update(JSON.stringify([request.tenant, entityIds === null ? null : [...entityIds].sort(), dryRun]))
    .digest('hex');
  const replay = async (key: string) => {
    const found = await findRunByIdempotencyKey(em, request.tenant, key);
    if (found === null) return null;
    if (found.request_hash !== requestHash)
      throw new DomainError(
        'IDEMPOTENCY_KEY_REUSED',
        'this Idempotency-Key was used for another reconciliation request',
      );
    return { reconciliationId: found.id, replayed: true };
  };
  if (request.idempotencyKey !== undefined) {
    const replayed = await replay(request.idempotencyKey);
    if (replayed !== null) return replayed;
  }
  if (entityIds !== null) {
    const known = await knownEntityIds(em, request.tenant, entityIds);
    const unknown = entityIds.filter((id) => !known.has(id));
    if (unknown.length > 0)
      throw new DomainError('NOT_FOUND', 'entity not found', {
        entityIds: unknown.slice(0, 20),
      });
  }
  const id = await insertRequestedRun(em, {
    id: randomUUID(),
    tenant: request.tenant,
    dryRun,
    entityIds,
    idempotencyKey: request.idempotencyKey ?? null,
    requestHash,
  });
  if (id !== null) return { reconciliationId: id, replayed: false };
  // A concurrent request with the same key inserted first.
  const replayed = request.idempotencyKey === undefined ? null : await replay(request.idempotencyKey);
  if (replayed === null)
    throw new DomainError('CONFLICT', 'the reconciliation collided with another request');
  return replayed;
}

export interface ScheduleOptions {
  /** `RECONCILE_PERIOD`: every entity on CTP is checked at least once per this long. */
  readonly periodMs: number;
  /** Entities checked at once by one tick. */
  readonly concurrency: number;
}

export interface TickDependencies extends ReconcileDependencies {
  /**
   * How many `/getData` calls of the tenant's reconciliation share may be made now (the share of
   * the tenant's SaaS rate, shared by every worker), up to `wanted`; what it answers is taken.
   */
  readonly takeBudget: (tenant: string, wanted: number) => Promise<number>;
}

/**
 * A scheduled reconciliation checks its items over this part of the period, so that the next one
 * starts before the period is over: an entity is checked again after at most 0.9 of the period
 * (plus a tick), never after more than one.
 */
export const SCHEDULE_PACE = 0.9;

/** Items claimed at once (then checked, `concurrency` at a time). */
const CLAIM_BATCH = 64;
/** A tick stops claiming after this long; what is still due waits for the next tick. */
const TICK_WORK_MS = 10_000;

/**
 * How many of a run's items are due now: all of a requested one; a schedule's spread evenly, the
 * k-th of n due at k/n of its paced period (so a fresh schedule checks nothing at once).
 */
export function dueItems(run: RunningRun): number {
  if (run.trigger === 'REQUEST' || run.periodMs === null) return run.total - run.taken;
  const share = Math.min(1, run.elapsedMs / (run.periodMs * SCHEDULE_PACE));
  return Math.floor(run.total * share) - run.taken;
}

export interface TickSummary {
  readonly schedulesStarted: number;
  readonly checked: number;
  readonly completed: readonly string[];
}

/**
 * One tick of the reconciliation schedule (the worker's one BullMQ job scheduler runs it, on
 * whichever worker takes the job): starts a scheduled reconciliation for each tenant that has
 * entities on CTP and none running, claims the items due of every running reconciliation within
 * the tenant's share of the SaaS rate (requested ones first), checks them, and completes the
 * reconciliations that have no item left. Items are claimed under a lease (`SKIP LOCKED`), so
 * ticks overlapping on two workers never check one entity twice.
 */
export async function reconcileTick(deps: TickDependencies, options: ScheduleOptions): Promise<TickSummary> {
  const schedulesStarted = await ensureSchedules(deps.em, options.periodMs);
  let checked = 0;
  const until = performance.now() + TICK_WORK_MS;
  for (const run of await runningRuns(deps.em)) {
    let due = dueItems(run);
    // In batches: a claim is never held for longer than a batch takes, far under its lease.
    while (due > 0 && performance.now() < until) {
      const granted = await deps.takeBudget(run.tenant, Math.min(due, CLAIM_BATCH));
      if (granted <= 0) break;
      const entityIds = await claimItems(deps.em, run.id, granted, SCHEDULE_PACE);
      if (entityIds.length === 0) break;
      due -= entityIds.length;
      await inParallel(entityIds, options.concurrency, async (entityId) => {
        await checkItem(deps, run, entityId);
        checked++;
      });
    }
  }
  const completed = await completeFinishedRuns(deps.em);
  return { schedulesStarted, checked, completed };
}

async function checkItem(deps: TickDependencies, run: RunningRun, entityId: string): Promise<CheckResult> {
  const request = { tenant: run.tenant, entityId, dryRun: run.dryRun, reconciliationId: run.id };
  try {
    return await reconcileEntity(deps, request);
  } catch (error) {
    // The run goes on: the entity counts as an error, with what went wrong (never a card number:
    // nothing in this step holds one).
    deps.logger?.error({ tenant: run.tenant, entityId, err: error }, 'reconciliation: check failed');
    const result: CheckResult = {
      outcome: 'ERROR',
      repaired: false,
      error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 512) : 'unknown error',
      drifts: [],
    };
    await SqlSession.transaction(deps.em, (session) =>
      session.run(itemCheckedStatements(run, entityId, result), { commit: true }),
    );
    deps.metrics?.checked.inc();
    return result;
  }
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Logger } from 'pino';
import { DomainError } from '../errors/domain-error.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import { requestOperation } from '../operations/request-operation.ts';
import { executeOnOrm } from '../operations/sql-session.ts';
import {
  completeBatchIfDone,
  endItem,
  type LeasedBatch,
  leaseOpenBatches,
  markItemStarted,
  nextPendingItems,
  type PendingItem,
  queuedOfBatches,
  releaseBatchLease,
  settleBatchItems,
} from './store.ts';

/**
 * The batch feeder (platform contract, "Batches"; `docs/architecture.md`, "Batches and fair
 * scheduling"). Batch items never go to the queue in bulk: each run, every tenant with open
 * batches (a lane) gets at most its window of operations not yet accepted by the SaaS, started
 * through `requestOperation` like any single request. The submit queue then holds a bounded
 * number of any tenant's batch jobs, so a tenant's single operations and other tenants' work
 * wait behind a window, never behind a million items; the tenant's SaaS rate (the worker's
 * limiter) and "one operation in flight per entity" (the database's in-flight index) hold for
 * batch operations as for any other.
 */

export interface FeedOptions {
  /** Operations of the tenant's batches that may wait for the SaaS at once. */
  readonly laneWindow: (tenant: string) => Promise<number>;
  /** How long a run holds its batches (another worker takes them over after a crash). */
  readonly leaseMs?: number;
  /** Items started at once within a lane. */
  readonly concurrency?: number;
  readonly logger?: Logger;
}

export interface FeedResult {
  readonly started: number;
  readonly settled: number;
  readonly completed: number;
}

type ItemStart = 'started' | 'waiting' | 'ended';

/**
 * Items a lane starts at once. Each start is its own lifecycle step (`requestOperation`), and the
 * steps ready together share one transaction (group commit, up to 64 a group): with 8 at a time
 * the feeder paid a commit for every 8 items and fell behind the SaaS; with 64 a run's window
 * goes out in a few round trips.
 */
const FEED_CONCURRENCY = 64;

/** One run of the feeder over every open batch no other worker holds. */
export async function feedBatches(em: EntityManager, options: FeedOptions): Promise<FeedResult> {
  const leased = await executeOnOrm(
    em.fork(),
    leaseOpenBatches({ lease_ms: options.leaseMs ?? 30_000, limit: 200 }),
  );
  const lanes = new Map<string, LeasedBatch[]>();
  for (const batch of leased) lanes.set(batch.tenant, [...(lanes.get(batch.tenant) ?? []), batch]);
  const results = await Promise.all(
    [...lanes.entries()].map(([tenant, batches]) => feedLane(em, tenant, batches, options)),
  );
  return results.reduce(
    (a, b) => ({
      started: a.started + b.started,
      settled: a.settled + b.settled,
      completed: a.completed + b.completed,
    }),
    { started: 0, settled: 0, completed: 0 },
  );
}

async function feedLane(
  em: EntityManager,
  tenant: string,
  batches: readonly LeasedBatch[],
  options: FeedOptions,
): Promise<FeedResult> {
  let started = 0;
  let settled = 0;
  let completed = 0;
  try {
    for (const batch of batches) {
      const [row] = await executeOnOrm(em.fork(), settleBatchItems({ batch_id: batch.id }));
      settled += Number(row?.n ?? 0);
    }
    const [queued] = await executeOnOrm(em.fork(), queuedOfBatches({ batch_ids: batches.map((b) => b.id) }));
    let slots = (await options.laneWindow(tenant)) - Number(queued?.n ?? 0);
    // Oldest batch first: a tenant's batches run in the order it sent them.
    for (const batch of batches) {
      if (batch.status !== 'RUNNING' || slots <= 0) continue;
      const pending = await executeOnOrm(
        em.fork(),
        nextPendingItems({ batch_id: batch.id, tenant, limit: slots * 2 }),
      );
      // Items of one entity run one after another: one per entity per run, the rest wait.
      const entities = new Set<string>();
      const chosen = pending.filter((item) => {
        if (entities.has(item.entity_id)) return false;
        entities.add(item.entity_id);
        return true;
      });
      const outcomes = await mapLimited(
        chosen.slice(0, slots),
        options.concurrency ?? FEED_CONCURRENCY,
        (item) => startItem(em, batch, item, options.logger),
      );
      const n = outcomes.filter((o) => o === 'started').length;
      started += n;
      slots -= n;
    }
    for (const batch of batches) if (await completeBatchIfDone(em, batch)) completed += 1;
  } finally {
    for (const batch of batches) await executeOnOrm(em.fork(), releaseBatchLease({ id: batch.id }));
  }
  return { started, settled, completed };
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}

/**
 * Starts one item as the operation the lifecycle calls for: `CTP_REGISTER_ENTITY_AND_KIT` for an
 * entity not on CTP, `CTP_ADD_KIT` for an enrolled one; a card already `ACTIVE` is `SKIPPED`. An
 * entity busy with another operation makes the item wait for a later run.
 */
async function startItem(
  em: EntityManager,
  batch: LeasedBatch,
  item: PendingItem,
  logger?: Logger,
): Promise<ItemStart> {
  const { tenant } = batch;
  const entityId = item.entity_id;
  const kitNo = item.kit_number;
  const end = async (
    status: 'SKIPPED' | 'REJECTED' | 'FAILED',
    reason: string | null,
    error: unknown = null,
  ) => {
    await executeOnOrm(
      em.fork(),
      endItem({
        batch_id: batch.id,
        seq: item.seq,
        status,
        reason,
        error: error === null ? null : JSON.stringify(error),
      }),
    );
    return 'ended' as const;
  };
  if (!item.entity_found) return end('REJECTED', 'ENTITY_NOT_FOUND');
  if (!item.kit_found) return end('REJECTED', 'KIT_NOT_FOUND');
  if (item.kit_status === 'ACTIVE') return end('SKIPPED', 'ALREADY_ACTIVE');
  if (item.entity_status.endsWith('_IN_PROGRESS') || item.kit_status.endsWith('_IN_PROGRESS'))
    return 'waiting';
  const event: CtpEvent = item.entity_status === 'ACTIVE' ? 'CTP_ADD_KIT' : 'CTP_REGISTER_ENTITY_AND_KIT';
  try {
    await requestOperation(
      em,
      { tenant, event, entityId, kitNo, idempotencyKey: `batch:${batch.id}:${item.seq}`, batchItem: true },
      (operation) => [markItemStarted({ batch_id: batch.id, seq: item.seq, operation_id: operation.id })],
    );
    return 'started';
  } catch (error) {
    if (error instanceof DomainError) {
      // Busy, or the database too busy to take the step now: the item waits for a later run.
      if (error.code === 'OPERATION_IN_PROGRESS' || error.code === 'UNAVAILABLE') return 'waiting';
      if (error.code === 'CTP_NOT_ENABLED') return end('REJECTED', 'CTP_NOT_ENABLED');
      if (error.code === 'NOT_FOUND') return end('REJECTED', 'ENTITY_NOT_FOUND');
      return end('FAILED', null, { code: error.code, message: error.message, details: error.details });
    }
    // The item was cancelled between the read and the start: the operation rolled back with it.
    if (error instanceof Error && /division by zero/.test(error.message)) return 'ended';
    logger?.warn(
      { tenant, batchId: batch.id, seq: item.seq, err: error },
      'batch item not started; retried next run',
    );
    return 'waiting';
  }
}

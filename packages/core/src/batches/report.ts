import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { defineStatement, executeOnOrm } from '../operations/sql-session.ts';
import type { BatchAnswer, BatchItemStatus } from './schema.ts';

/**
 * Read-only views of batches for the operators' dashboard, beside the api's own reads in
 * `store.ts` (which stays the one writer of `ctp_batch` and `ctp_batch_item`).
 */

/** The window the dashboard's rate and ETA of a running batch are measured over. */
export const BATCH_RATE_WINDOW_SECONDS = 60;

/** Item statuses an item reaches by running (not refused at intake, not cancelled). */
const RAN = ['SUCCEEDED', 'FAILED', 'SKIPPED'] as const satisfies readonly BatchItemStatus[];

export interface BatchTenant {
  readonly tenant: string;
  readonly batches: number;
  readonly running: number;
  readonly latestAt: Date;
}

const tenantsWithBatches = defineStatement<Record<string, never>, BatchTenant>(
  'ctp_batch_report_tenants',
  `select tenant, count(*)::int as batches, (count(*) filter (where status = 'RUNNING'))::int as running,
          max(created_at) as "latestAt"
     from ctp_batch group by tenant order by max(created_at) desc`,
);

/** Every tenant that has submitted a batch, the one with the newest batch first. */
export async function batchTenants(em: EntityManager): Promise<BatchTenant[]> {
  const rows = await executeOnOrm(em.fork(), tenantsWithBatches({}));
  return rows.map((row) => ({ ...row, latestAt: new Date(row.latestAt) }));
}

export interface BatchFailureGroup {
  readonly status: 'FAILED' | 'REJECTED';
  readonly reason: string;
  readonly count: number;
}

const failureGroups = defineStatement<
  { batch_id: string },
  { status: 'FAILED' | 'REJECTED'; reason: string; n: number }
>(
  'ctp_batch_report_failures',
  `select status, coalesce(reason, error->>'code', 'UNKNOWN') as reason, count(*)::int as n
     from ctp_batch_item where batch_id = $batch_id::uuid and status in ('FAILED', 'REJECTED')
    group by 1, 2 order by 3 desc, 1, 2 limit 100`,
);

/**
 * A batch's failed and refused items by status and reason (a failure's error code when it has no
 * reason), most frequent first: the api's `failuresByReason` with the two statuses kept apart,
 * so an operator sees what the network refused apart from what was bad input.
 */
export async function batchFailureGroups(em: EntityManager, batchId: string): Promise<BatchFailureGroup[]> {
  const rows = await executeOnOrm(em.fork(), failureGroups({ batch_id: batchId }));
  return rows.map((row) => ({ status: row.status, reason: row.reason, count: Number(row.n) }));
}

const ranSince = defineStatement<{ batch_id: string; statuses: string[]; seconds: number }, { n: number }>(
  'ctp_batch_report_ran_since',
  `select count(*)::int as n from ctp_batch_item
    where batch_id = $batch_id::uuid and status = any($statuses::text[])
      and updated_at > now() - $seconds::int * interval '1 second'`,
);

export interface BatchPace {
  /** Items finished (succeeded, failed or skipped) per second. */
  readonly perSecond: number;
  /** What `perSecond` is measured over. */
  readonly over: 'RECENT_WINDOW' | 'SINCE_START';
  /** Seconds until the items not finished yet are, at that rate; null when it cannot be told. */
  readonly etaSeconds: number | null;
}

/**
 * How fast a batch goes. While items are still open: items finished in the last
 * `BATCH_RATE_WINDOW_SECONDS` (or since the batch was accepted, when it is younger), so the ETA
 * follows the rate the batch runs at now (a throttled tenant, a paused worker), not its average.
 * Once nothing is open: the api's `ratePerSecond`, from acceptance to completion.
 */
export async function batchPace(em: EntityManager, batch: BatchAnswer, now = new Date()): Promise<BatchPace> {
  const open = batch.counts.pending + batch.counts.inProgress;
  if (open === 0) return { perSecond: batch.ratePerSecond, over: 'SINCE_START', etaSeconds: null };
  const age = Math.max(1, Math.ceil((now.getTime() - Date.parse(batch.createdAt)) / 1000));
  const seconds = Math.min(BATCH_RATE_WINDOW_SECONDS, age);
  const [row] = await executeOnOrm(
    em.fork(),
    ranSince({ batch_id: batch.batchId, statuses: [...RAN], seconds }),
  );
  const perSecond = Number(row?.n ?? 0) / seconds;
  return {
    perSecond: Math.round(perSecond * 100) / 100,
    over: 'RECENT_WINDOW',
    etaSeconds: perSecond > 0 ? Math.ceil(open / perSecond) : null,
  };
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { queryBound } from './sql-session.ts';

/**
 * What the sweeper re-drives. PostgreSQL is the source of truth, Redis is not: a job can be
 * lost with Redis's last second of AOF, or end failed once its retries are spent. Only what is
 * still retryable comes back: a `QUEUED` operation within its re-drive budget whose last
 * re-drive is old enough (backoff), and a webhook neither processed nor parked. A permanent
 * error never gets here: it ends its operation (or parks its webhook) where it happens.
 */

/**
 * Stale `QUEUED` operations the sweeper may re-drive: within `maxRedrives`, the n-th re-drive no
 * sooner than `olderThanMs * 4^n` after the previous one. Reads `idx_ctp_operation_queued`.
 */
export const STALE_QUEUED_OPERATIONS_SQL = `select id, tenant, redrives, traceparent from ctp_operation
      where status = 'QUEUED' and updated_at < now() - ? * interval '1 millisecond'
        and redrives < ?
        and (last_redriven_at is null
             or last_redriven_at < now() - ? * power(4, redrives) * interval '1 millisecond')
      order by updated_at limit ?`;

export async function findStaleQueuedOperations(
  em: EntityManager,
  options: { olderThanMs: number; maxRedrives: number; limit: number },
): Promise<{ id: string; tenant: string; redrives: number; traceparent: string | null }[]> {
  const rows = await queryBound<{ id: string; tenant: string; redrives: number; traceparent: string | null }>(
    em.fork(),
    STALE_QUEUED_OPERATIONS_SQL,
    [options.olderThanMs, options.maxRedrives, options.olderThanMs, options.limit],
  );
  return rows.map((row) => ({ ...row, redrives: Number(row.redrives) }));
}

/** Webhooks recorded but neither processed nor parked. Reads `idx_ctp_webhook_inbox_unprocessed`. */
export const UNPROCESSED_WEBHOOKS_SQL = `select webhook_id, tenant from ctp_webhook_inbox
      where processed_at is null and parked_at is null and received_at < now() - ? * interval '1 millisecond'
      order by received_at limit ?`;

export async function findUnprocessedWebhooks(
  em: EntityManager,
  olderThanMs: number,
  limit: number,
): Promise<{ webhook_id: string; tenant: string }[]> {
  return queryBound(em.fork(), UNPROCESSED_WEBHOOKS_SQL, [olderThanMs, limit]);
}

/**
 * Entities with pending automatic updates, or a running card replacement not advanced (and not
 * waiting for a retry), older than `olderThanMs`: their promote job may be lost.
 */
export async function findStalePendingSyncs(
  em: EntityManager,
  olderThanMs: number,
  limit: number,
): Promise<{ tenant: string; entity_id: string }[]> {
  return queryBound(
    em.fork(),
    `select tenant, entity_id from ctp_pending_sync
      where created_at < now() - ? * interval '1 millisecond'
     union
     select tenant, entity_id from ctp_kit_replacement
      where status = 'RUNNING' and updated_at < now() - ? * interval '1 millisecond'
        and (next_attempt_at is null or next_attempt_at <= now())
     limit ?`,
    [olderThanMs, olderThanMs, limit],
  );
}

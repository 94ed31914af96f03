import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';

/**
 * What the sweeper re-drives. PostgreSQL is the source of truth, Redis is not: a job can be
 * lost with Redis's last second of AOF, or end failed after its worker died too often. Every
 * operation still `QUEUED` after `olderThanMs`, and every webhook recorded but unprocessed, is
 * handed back to the worker (the job ids make a re-enqueue of a live job a no-op).
 */
export async function findStaleQueuedOperations(
  em: EntityManager,
  olderThanMs: number,
  limit: number,
): Promise<{ id: string; tenant: string }[]> {
  return em.fork().execute(
    `select id, tenant from ctp_operation
      where status = 'QUEUED' and updated_at < now() - ? * interval '1 millisecond'
      order by updated_at limit ?`,
    [olderThanMs, limit],
  );
}

export async function findUnprocessedWebhooks(
  em: EntityManager,
  olderThanMs: number,
  limit: number,
): Promise<{ webhook_id: string; tenant: string }[]> {
  return em.fork().execute(
    `select webhook_id, tenant from ctp_webhook_inbox
      where processed_at is null and received_at < now() - ? * interval '1 millisecond'
      order by received_at limit ?`,
    [olderThanMs, limit],
  );
}

/** Entities with pending automatic updates older than `olderThanMs` (their promote job may be lost). */
export async function findStalePendingSyncs(
  em: EntityManager,
  olderThanMs: number,
  limit: number,
): Promise<{ tenant: string; entity_id: string }[]> {
  return em.fork().execute(
    `select distinct tenant, entity_id from ctp_pending_sync
      where created_at < now() - ? * interval '1 millisecond' limit ?`,
    [olderThanMs, limit],
  );
}

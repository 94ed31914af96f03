import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { canMoveOperation } from '../lifecycle/transitions.ts';

/**
 * Stores the SaaS's `202`: the `ctp_requestIdTracking` row (`IN_PROGRESS`, `request_trace_ID`)
 * and the operation moved to `IN_PROGRESS`, with the trace's first status-history row. One
 * statement (no transaction around it): the operation moves only if it still is `QUEUED`, and
 * the two inserts happen only if it moved. Runs again harmlessly: a retried submission gets the
 * same trace id back (same `Idempotency-Key`), and a second recording finds the operation no
 * longer `QUEUED` and writes nothing. The first poll is scheduled after `firstPollAfterMs`, so
 * the webhook normally wins and the poller is the safety net.
 */
export async function recordAccepted(
  em: EntityManager,
  input: { operationId: string; requestTraceId: string; firstPollAfterMs: number },
): Promise<boolean> {
  if (!canMoveOperation('QUEUED', 'IN_PROGRESS'))
    throw new Error('the lifecycle forbids QUEUED → IN_PROGRESS');
  const rows = await em.execute<{ id: string }[]>(
    `with op as (
       update ctp_operation set status = 'IN_PROGRESS', request_trace_id = ?, attempts = attempts + 1,
              updated_at = now(), version = version + 1
        where id = ?::uuid and status = 'QUEUED'
       returning id, tenant, entity_id, kit_number, event),
     trace as (
       insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, kit_number, event, status_ctp,
              operation_id, poll_attempts, next_poll_at, version, created_at, updated_at)
       select tenant, ?, entity_id, kit_number, event, 'IN_PROGRESS', id, 0,
              now() + ?::int * interval '1 millisecond', 1, now(), now()
         from op),
     history as (
       insert into ctp_status_history (tenant, entity_id, kit_number, record, from_status, to_status, cause,
              operation_id, request_trace_id, created_at)
       select tenant, entity_id, kit_number, 'trace', null, 'IN_PROGRESS',
              left(event || ' accepted by the SaaS', 128), id, ?, now()
         from op)
     select id from op`,
    [
      input.requestTraceId,
      input.operationId,
      input.requestTraceId,
      Math.max(0, Math.round(input.firstPollAfterMs)),
      input.requestTraceId,
    ],
  );
  return rows.length > 0;
}

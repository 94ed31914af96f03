import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { canMoveOperation } from '../lifecycle/transitions.ts';
import { lockEntityOfOperation } from './lifecycle-store.ts';
import { SqlSession, sql } from './sql-session.ts';

/**
 * What recording a `202` did:
 * - `recorded`: the operation moved `QUEUED` → `IN_PROGRESS` with this trace.
 * - `already-recorded`: the operation already carries this trace id: an earlier attempt recorded
 *   the same `202` (a job retried after the recording, the SaaS answering our `Idempotency-Key`
 *   with its first answer). Nothing to do.
 * - `not-queued`: the operation ended, or carries another trace, before this `202` was recorded:
 *   the network accepted work our records no longer wait for. Nothing is written (a trace row
 *   would resolve an operation that has already ended); the caller reports it for an operator.
 */
export type RecordAcceptedResult = 'recorded' | 'already-recorded' | 'not-queued';

/**
 * Stores the SaaS's `202`: the `ctp_requestIdTracking` row (`IN_PROGRESS`, `request_trace_ID`)
 * and the operation moved to `IN_PROGRESS`, with the trace's first status-history row. Like
 * every lifecycle step it takes the entity lock first (one lock order: a concurrent step that
 * fails the operation runs before or after it, never in between), then one statement: the
 * operation moves only if it still is `QUEUED`, and the two inserts happen only if it moved.
 * Lock, write and commit go in one round trip. The first poll is scheduled after
 * `firstPollAfterMs`, so the webhook normally wins and the poller is the safety net.
 */
export async function recordAccepted(
  em: EntityManager,
  input: { operationId: string; requestTraceId: string; firstPollAfterMs: number },
): Promise<RecordAcceptedResult> {
  if (!canMoveOperation('QUEUED', 'IN_PROGRESS'))
    throw new Error('the lifecycle forbids QUEUED → IN_PROGRESS');
  const [, rows] = await SqlSession.transaction(em, (session) =>
    session.run(
      [
        lockEntityOfOperation(input.operationId),
        sql(
          `with op as (
             update ctp_operation set status = 'IN_PROGRESS', request_trace_id = ?, attempts = attempts + 1,
                    updated_at = now(), version = version + 1
              where id = ?::uuid and status = 'QUEUED'
             returning id, tenant, entity_id, kit_number, event),
           trace as (
             insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, kit_number, event,
                    status_ctp, operation_id, poll_attempts, next_poll_at, version, created_at, updated_at)
             select tenant, ?, entity_id, kit_number, event, 'IN_PROGRESS', id, 0,
                    now() + ?::int * interval '1 millisecond', 1, now(), now()
               from op),
           history as (
             insert into ctp_status_history (tenant, entity_id, kit_number, record, from_status, to_status, cause,
                    operation_id, request_trace_id, created_at)
             select tenant, entity_id, kit_number, 'trace', null, 'IN_PROGRESS',
                    left(event || ' accepted by the SaaS', 128), id, ?, now()
               from op)
           select exists (select 1 from op) as recorded,
                  (select request_trace_id from ctp_operation where id = ?::uuid) as trace_id`,
          [
            input.requestTraceId,
            input.operationId,
            input.requestTraceId,
            Math.max(0, Math.round(input.firstPollAfterMs)),
            input.requestTraceId,
            input.operationId,
          ],
        ),
      ],
      { commit: true },
    ),
  );
  // `trace_id` is read with the statement's snapshot: the trace id before this statement wrote.
  const row = rows?.[0] as { recorded: boolean; trace_id: string | null } | undefined;
  if (row?.recorded === true) return 'recorded';
  return row?.trace_id === input.requestTraceId ? 'already-recorded' : 'not-queued';
}

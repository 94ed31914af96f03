import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { canMoveOperation } from '../lifecycle/transitions.ts';
import { INSERT_ACCEPTED_HISTORY_CTE } from './history-writes.ts';
import { ACCEPT_OPERATIONS_CTE } from './operation-writes.ts';
import { sharedTransaction } from './shared-transaction.ts';
import { defineStatement } from './sql-session.ts';
import { lockEntityOfOperation } from './step-reads.ts';
import { INSERT_TRACES_CTE } from './trace-writes.ts';

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
 * Each operation of the set moves only if it still is `QUEUED`, and its two inserts happen only if
 * it moved. `trace_id` is read with the statement's snapshot: the trace id before this statement
 * wrote. Its values are sets, so the recordings of one round trip of a shared transaction go as
 * one statement (`sets`, `mergeSets`), and each step finds its own row by its operation's id. An
 * operation named twice in the set (one `202` recorded by two jobs at once) fails the statement
 * (`ctp_guard`): the group is rolled back and each step runs again alone, where the second finds
 * the first's trace.
 */
export const recordAcceptedStatement = defineStatement<
  { accepted: string },
  { operation_id: string; recorded: boolean; trace_id: string | null }
>(
  'ctp_record_accepted',
  `with accepted as materialized (
     select * from jsonb_to_recordset($accepted::jsonb)
         as r(operation_id uuid, request_trace_id text, first_poll_after_ms int)),
   ${ACCEPT_OPERATIONS_CTE},
   ${INSERT_TRACES_CTE},
   ${INSERT_ACCEPTED_HISTORY_CTE}
   select a.operation_id::text as operation_id,
          exists (select 1 from op where op.id = a.operation_id) as recorded,
          (select o.request_trace_id from ctp_operation o where o.id = a.operation_id) as trace_id
     from accepted a
    where ctp_guard((select count(distinct d.operation_id) = count(*) from accepted d))`,
  { sets: true },
);

/**
 * Stores the SaaS's `202`: the `ctp_requestIdTracking` row (`IN_PROGRESS`, `request_trace_ID`)
 * and the operation moved to `IN_PROGRESS`, with the trace's first status-history row. Like
 * every lifecycle step it takes the entity lock first (one lock order: a concurrent step that
 * fails the operation runs before or after it, never in between), then one statement.
 * Begin, lock, write and commit are pipelined: one round trip. The first poll is scheduled after
 * `firstPollAfterMs`, so the webhook normally wins and the poller is the safety net.
 */
export async function recordAccepted(
  em: EntityManager,
  input: { operationId: string; requestTraceId: string; firstPollAfterMs: number },
): Promise<RecordAcceptedResult> {
  if (!canMoveOperation('QUEUED', 'IN_PROGRESS'))
    throw new Error('the lifecycle forbids QUEUED → IN_PROGRESS');
  const [, rows] = await sharedTransaction(em, (session) =>
    session.run(
      [
        lockEntityOfOperation(input.operationId),
        recordAcceptedStatement({
          accepted: JSON.stringify([
            {
              operation_id: input.operationId,
              request_trace_id: input.requestTraceId,
              first_poll_after_ms: Math.max(0, Math.round(input.firstPollAfterMs)),
            },
          ]),
        }),
      ],
      { commit: true },
    ),
  );
  const row = (
    rows as { operation_id: string; recorded: boolean; trace_id: string | null }[] | undefined
  )?.find((r) => r.operation_id === input.operationId.toLowerCase());
  if (row?.recorded === true) return 'recorded';
  return row?.trace_id === input.requestTraceId ? 'already-recorded' : 'not-queued';
}

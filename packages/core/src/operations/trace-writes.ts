import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import { queryBound } from './sql-session.ts';

/** Every write of `ctp_requestIdTracking` (step fragments: see `operation-writes.ts`). */

/** `recordAccepted`: the trace of each operation that moved (`op`), first poll after its `first_poll_after_ms`. */
export const INSERT_TRACES_CTE = `trace as (
  insert into "ctp_requestIdTracking" (tenant, "request_trace_ID", entity_id, kit_number, event,
         status_ctp, operation_id, poll_attempts, next_poll_at, version, created_at, updated_at)
  select tenant, request_trace_id, entity_id, kit_number, event, 'IN_PROGRESS', id, 0,
         now() + first_poll_after_ms * interval '1 millisecond', 1, now(), now()
    from op)`;

/** The keys of the traces a step (or a group's steps) resolves: one row each in `$traces_end`. */
const RESOLVING_KEYS = `array(select (e.value->>'pkey')::bigint from jsonb_array_elements($traces_end::jsonb) e)`;

/**
 * The guard's lock on the traces that resolve, those still `IN_PROGRESS` (counted against the set
 * by `ok`, as the operations are: `GUARD_OPERATIONS_CTE`). The status is tested against
 * `(select 'IN_PROGRESS'::text)`, not the literal, here and in `RESOLVE_TRACES_CTE`: with the
 * literal, the generic plan read the whole partial index of traces in flight
 * (`idx_ctp_request_id_tracking_due`) and filtered each by key (`docs/architecture.md`,
 * "A status test beside a key lookup").
 */
export const GUARD_TRACES_CTE = `guard_trace as (
  select t.pkey from "ctp_requestIdTracking" t
   where t.pkey = any(${RESOLVING_KEYS}) and t.status_ctp = (select 'IN_PROGRESS'::text)
     for update of t)`;

/** The guarded traces turn terminal (`to`, with their error when they fail). */
export const RESOLVE_TRACES_CTE = `trace_end as (
  update "ctp_requestIdTracking" t set status_ctp = r."to", resolved_at = now(), next_poll_at = null,
         error_code = r."errorCode", error_message = r."errorMessage",
         error_details = r."errorDetails", updated_at = now(), version = t.version + 1
    from jsonb_to_recordset($traces_end::jsonb) as r(pkey bigint, "to" text,
         "errorCode" text, "errorMessage" text, "errorDetails" text)
   where t.pkey = any(${RESOLVING_KEYS})
     and t.pkey = r.pkey and t.status_ctp = (select 'IN_PROGRESS'::text) and (select applied from ok))`;

export interface DueTrace {
  pkey: string;
  tenant: string;
  request_trace_ID: string;
  created_at: Date;
}

/**
 * The poller's claim: the due `IN_PROGRESS` traces, their next poll pushed back (exponential per
 * trace: 1 s, 2 s, 4 s … up to the longest interval) in one statement, with `SKIP LOCKED` so
 * several workers never poll the same trace at once. The inner scan reads the head of the
 * partial index `idx_ctp_request_id_tracking_due`, and the claimed keys are updated through the
 * primary key (`= any(array(…))`: never a join the planner might turn into a scan of every
 * trace), so its cost does not grow with finished traces.
 */
export const CLAIM_DUE_TRACES_SQL = `update "ctp_requestIdTracking" t
        set next_poll_at = now() + least(?::int, (1000 * power(2, least(t.poll_attempts, 16)))::int) * interval '1 millisecond',
            poll_attempts = t.poll_attempts + 1
      where t.pkey = any(array(
        select pkey from "ctp_requestIdTracking"
         where status_ctp = 'IN_PROGRESS' and (next_poll_at is null or next_poll_at <= now())
         order by next_poll_at nulls first
         limit ?::int for update skip locked))
      returning t.pkey, t.tenant, t."request_trace_ID", t.created_at`;

/**
 * Sent before `CLAIM_DUE_TRACES_SQL` in its transaction. A resolved trace's entry stays in
 * `idx_ctp_request_id_tracking_due`, dead, until a VACUUM. For the claim's `is null or <= now()`
 * the planner likes a bitmap scan (two index ranges OR-ed), which reads every such entry and its
 * table page once a second and never marks them: 80 ms a claim at 22,000 resolved traces where
 * autovacuum is off. An index scan in `next_poll_at` order marks the dead entries it meets, so
 * later claims skip them (as the relay's claim does, `claimPlanSettings`;
 * `apps/worker/test/poller-claim-scan.test.ts`).
 */
export const CLAIM_WITHOUT_BITMAP_SCAN_SQL = 'set local enable_bitmapscan = off';

export function claimDueTraces(
  em: EntityManager,
  maxIntervalMs: number,
  batchSize: number,
): Promise<DueTrace[]> {
  return em.fork().transactional(async (tx) => {
    await queryBound(tx, CLAIM_WITHOUT_BITMAP_SCAN_SQL, []);
    return queryBound<DueTrace>(tx, CLAIM_DUE_TRACES_SQL, [maxIntervalMs, batchSize]);
  });
}

/** An operator's re-poll: the trace's next poll is due now, if it is still `IN_PROGRESS`. */
export async function pollTraceNow(em: EntityManager, tracePkey: string): Promise<boolean> {
  const { rows } = await sql<{ pkey: string }>`update "ctp_requestIdTracking" set next_poll_at = now()
      where pkey = ${tracePkey}::bigint and status_ctp = 'IN_PROGRESS' returning pkey`.execute(
    em.getKysely(),
  );
  return rows.length === 1;
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';

/**
 * Every write of `ctp_operation`. The step fragments are CTEs of a step's one statement
 * (`StepWrites`, `recordAccepted`), with named parameters and written only when the step's guard
 * held (`ok`, `(select applied from ok)`).
 */

/** New `QUEUED` operations, from `$operations_new` (`NewOperation` rows as JSON). */
export const INSERT_OPERATIONS_CTE = `operation_new as (
  insert into ctp_operation (id, tenant, event, entity_id, kit_number, status, attempts, idempotency_key,
         request_hash, status_before, request_body, data_adjustments, reason, traceparent, version, created_at, updated_at)
  select r.id, r.tenant, r.event, r."entityId", r."kitNumber", 'QUEUED', 0, r."idempotencyKey", r."requestHash",
         r."statusBefore", r."requestBody", r."dataAdjustments", r.reason, r.traceparent, 1, now(), now()
    from jsonb_to_recordset($operations_new::jsonb) as r(id uuid, tenant text, event text, "entityId" text,
         "kitNumber" text, "idempotencyKey" text, "requestHash" text, "statusBefore" jsonb, "requestBody" jsonb,
         "dataAdjustments" jsonb, reason text, traceparent text)
   where (select applied from ok))`;

/**
 * The ids of the operations a step (or the steps of a group, `mergeSets`) ends: `$operations_end`
 * holds one row per ending, with the status it was read with and the status it ends in.
 */
const ENDING_IDS = `array(select (e.value->>'id')::uuid from jsonb_array_elements($operations_end::jsonb) e)`;

/**
 * The guard's lock on the operations that end: each row, if it still has the status its step
 * read. Counted against the set by `ok` (`STEP_GUARDS_OK`): a row moved by another writer, or one
 * operation named twice in the set, leaves fewer rows than the set has, and nothing is written.
 */
export const GUARD_OPERATIONS_CTE = `guard_operation as (
  select o.id from ctp_operation o
   where o.id = any(${ENDING_IDS})
     and (o.id, o.status) in (select r.id, r.status
                                from jsonb_to_recordset($operations_end::jsonb) as r(id uuid, status text))
     for update of o)`;

/** The guarded operations end (`to`, with their error when they fail). */
export const FINISH_OPERATIONS_CTE = `operation_end as (
  update ctp_operation o set status = r."to", completed_at = now(), updated_at = now(),
         version = o.version + 1, error_code = coalesce(r."errorCode", o.error_code),
         error_message = coalesce(r."errorMessage", o.error_message),
         error_details = coalesce(r."errorDetails", o.error_details)
    from jsonb_to_recordset($operations_end::jsonb) as r(id uuid, status text, "to" text,
         "errorCode" text, "errorMessage" text, "errorDetails" text)
   where o.id = any(${ENDING_IDS})
     and o.id = r.id and o.status = r.status and (select applied from ok))`;

/**
 * `recordAccepted`: each operation of `accepted` (the rows of `$accepted`: `operation_id`,
 * `request_trace_id`, `first_poll_after_ms`) moves `QUEUED` → `IN_PROGRESS` with its trace.
 * The status is tested against `(select 'QUEUED'::text)`, not the literal: with the literal, the
 * generic plan read the whole `QUEUED` partial index (`idx_ctp_operation_queued`, whose predicate
 * the literal implies) and filtered every entry by id, a heap fetch for each of the operations
 * waiting at the time (500 in a batch's window) on every recording (`docs/architecture.md`,
 * "A status test beside a key lookup").
 */
export const ACCEPT_OPERATIONS_CTE = `op as (
  update ctp_operation o set status = 'IN_PROGRESS', request_trace_id = a.request_trace_id,
         attempts = o.attempts + 1, updated_at = now(), version = o.version + 1
    from accepted a
   where o.id = any(array(select operation_id from accepted))
     and o.id = a.operation_id and o.status = (select 'QUEUED'::text)
  returning o.id, o.tenant, o.entity_id, o.kit_number, o.event, a.request_trace_id, a.first_poll_after_ms)`;

/**
 * Counts one re-drive of an operation's failed job, before it happens: true for the one sweeper
 * whose count matched (two sweepers never both re-drive), false if another did or the operation
 * moved on. A crash after this and before the re-drive spends one of the budget: conservative,
 * still bounded.
 */
export async function claimRedrive(
  em: EntityManager,
  operationId: string,
  redrives: number,
): Promise<boolean> {
  const { rows } = await sql<{
    id: string;
  }>`update ctp_operation set redrives = redrives + 1, last_redriven_at = now()
      where id = ${operationId}::uuid and status = 'QUEUED' and redrives = ${redrives}
      returning id`.execute(em.fork().getKysely());
  return rows.length === 1;
}

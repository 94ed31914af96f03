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
 * The guarded operation (`$guard_operation_id`, read with `$guard_operation_status`) ends with
 * `$operation_to` (null: it does not end in this step).
 */
export const FINISH_OPERATION_CTE = `operation_end as (
  update ctp_operation set status = $operation_to::text, completed_at = now(), updated_at = now(),
         version = version + 1, error_code = coalesce($operation_error_code::text, error_code),
         error_message = coalesce($operation_error_message::text, error_message),
         error_details = coalesce($operation_error_details::text, error_details)
   where id = $guard_operation_id::uuid and status = $guard_operation_status::text
     and $operation_to::text is not null and (select applied from ok))`;

/** The guard's lock on the operation: its row, if it still has the status the step read. */
export const GUARD_OPERATION_CTE = `guard_operation as (
  select 1 from ctp_operation
   where $guard_operation_id::uuid is not null and id = $guard_operation_id::uuid
     and status = $guard_operation_status::text for update)`;

/** `recordAccepted`: the operation `$operation_id` moves `QUEUED` → `IN_PROGRESS` with its trace. */
export const ACCEPT_OPERATION_CTE = `op as (
  update ctp_operation set status = 'IN_PROGRESS', request_trace_id = $request_trace_id::text,
         attempts = attempts + 1, updated_at = now(), version = version + 1
   where id = $operation_id::uuid and status = 'QUEUED'
  returning id, tenant, entity_id, kit_number, event)`;

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

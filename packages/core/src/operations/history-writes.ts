/** Every write of `ctp_status_history` (step fragments: see `operation-writes.ts`). */

/** The rows of `$history` (`historyRow`s as JSON). */
export const INSERT_HISTORY_CTE = `history as (
  insert into ctp_status_history (tenant, entity_id, kit_number, record, from_status, to_status, cause,
         operation_id, request_trace_id, created_at)
  select r.tenant, r."entityId", r."kitNumber", r.record, r."fromStatus", r."toStatus", r.cause,
         r."operationId", r."requestTraceId", now()
    from jsonb_to_recordset($history::jsonb) as r(tenant text, "entityId" text, "kitNumber" text, record text,
         "fromStatus" text, "toStatus" text, cause text, "operationId" uuid, "requestTraceId" text)
   where (select applied from ok))`;

/** `recordAccepted`: each trace's first row, for the operations that moved (`op`). */
export const INSERT_ACCEPTED_HISTORY_CTE = `history as (
  insert into ctp_status_history (tenant, entity_id, kit_number, record, from_status, to_status, cause,
         operation_id, request_trace_id, created_at)
  select tenant, entity_id, kit_number, 'trace', null, 'IN_PROGRESS',
         left(event || ' accepted by the SaaS', 128), id, request_trace_id, now()
    from op)`;

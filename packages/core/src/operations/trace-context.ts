import { defineStatement } from './sql-session.ts';

/**
 * The stored `traceparent` of the operation a SaaS request trace belongs to: a webhook about the
 * trace joins the operation's trace even when the SaaS did not pass a `traceparent` on. Read only
 * with tracing on; through `uq_ctp_request_id_tracking` and the operation's primary key.
 */
export const operationTraceparentOfTrace = defineStatement<
  { tenant: string; request_trace_id: string },
  { traceparent: string | null }
>(
  'ctp_operation_traceparent_of_trace',
  `select o.traceparent from "ctp_requestIdTracking" t join ctp_operation o on o.id = t.operation_id
    where t."request_trace_ID" = $request_trace_id and t.tenant = $tenant`,
);

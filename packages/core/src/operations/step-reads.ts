import type { CtpEvent } from '../lifecycle/events.ts';
import type { OperationStatus, TerminalTraceStatus } from '../lifecycle/statuses.ts';
import type { RequestPlan } from '../lifecycle/transitions.ts';
import {
  AGGREGATE_COLUMNS,
  AGGREGATE_FROM,
  type Aggregate,
  type AggregateRow,
  aggregateOf,
  type OperationHead,
} from './aggregate-reads.ts';
import { defineStatement, type Statement } from './sql-session.ts';

/**
 * The statements of the steps that end an operation: the entity lock found through a trace or
 * an operation, and one read of the trace (or operation) with its entity's aggregate. See
 * `lifecycle-store.ts`.
 */

/** The operation row as the hot steps read it. */
export interface OperationRow extends OperationHead {
  readonly statusBefore: RequestPlan | null;
}

/** A trace with its operation and the aggregate of its entity, for the resolve step. */
export interface TraceForResolve {
  readonly trace: {
    readonly pkey: string;
    readonly requestTraceId: string;
    readonly statusCtp: 'IN_PROGRESS' | TerminalTraceStatus;
    readonly kitNumber: string | null;
    readonly tenant: string;
    readonly entityId: string;
    /** When the SaaS accepted the request (the trace's row was written). */
    readonly createdAt: Date;
  };
  readonly operation: OperationRow;
  readonly records: Aggregate | null;
}

/** The entity of a trace (see `lockEntity`); no row if the trace or its entity is unknown. */
const lockEntityOfTraceStatement = defineStatement<{ tenant: string; trace_id: string }>(
  'ctp_lock_entity_of_trace',
  `select 1 as one from "ctp_requestIdTracking" t
     join business_entity e on e.tenant = t.tenant and e.entity_id = t.entity_id
    where t.tenant = $tenant::text and t."request_trace_ID" = $trace_id::text for update of e`,
);

export function lockEntityOfTrace(tenant: string, requestTraceId: string): Statement {
  return lockEntityOfTraceStatement(
    { tenant, trace_id: requestTraceId },
    { lock: { tenant, requestTraceId } },
  );
}

/** The operation's columns in a step's read (`from ctp_operation o`), and their row. */
const OPERATION_COLUMNS = `o.id as o_id, o.tenant as o_tenant, o.entity_id as o_entity_id, o.event as o_event,
  o.kit_number as o_kit_number, o.status as o_status, o.status_before as o_status_before`;

type OperationColumns = AggregateRow & {
  o_id: string;
  o_tenant: string;
  o_entity_id: string;
  o_event: CtpEvent;
  o_kit_number: string | null;
  o_status: OperationStatus;
  o_status_before: RequestPlan | null;
};

const operationOf = (row: OperationColumns): OperationRow => ({
  id: row.o_id,
  tenant: row.o_tenant,
  event: row.o_event,
  entityId: row.o_entity_id,
  kitNumber: row.o_kit_number,
  status: row.o_status,
  statusBefore: row.o_status_before,
});

type TraceRow = OperationColumns & {
  t_pkey: string;
  t_status: TraceForResolve['trace']['statusCtp'];
  t_kit_number: string | null;
  t_entity_id: string;
  t_created_at: Date | string;
};

/**
 * The trace, its operation and the aggregate of its entity. The entity is found through a
 * scalar subquery rather than joined on the trace's columns, so the planner looks it up by its
 * unique index instead of walking every entity of the tenant.
 */
const readTraceForResolveStatement = defineStatement<{ tenant: string; trace_id: string }, TraceRow>(
  'ctp_read_trace_for_resolve',
  `select t.pkey::text as t_pkey, t.status_ctp as t_status, t.kit_number as t_kit_number,
          t.entity_id as t_entity_id, t.created_at as t_created_at, ${OPERATION_COLUMNS}, a.*
     from "ctp_requestIdTracking" t
     join ctp_operation o on o.id = t.operation_id
     left join (select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM}
                 where e.tenant = $tenant::text and e.entity_id = (select entity_id from "ctp_requestIdTracking"
                                                 where tenant = $tenant::text and "request_trace_ID" = $trace_id::text)) a on true
    where t.tenant = $tenant::text and t."request_trace_ID" = $trace_id::text`,
);

export function readTraceForResolve(tenant: string, requestTraceId: string): Statement {
  return readTraceForResolveStatement({ tenant, trace_id: requestTraceId });
}

export function traceForResolveFrom(
  rows: unknown[] | undefined,
  tenant: string,
  requestTraceId: string,
): TraceForResolve | null {
  const row = rows?.[0] as TraceRow | undefined;
  if (row === undefined) return null;
  return {
    trace: {
      pkey: row.t_pkey,
      requestTraceId,
      statusCtp: row.t_status,
      kitNumber: row.t_kit_number,
      tenant,
      entityId: row.t_entity_id,
      createdAt: new Date(row.t_created_at),
    },
    operation: operationOf(row),
    records: aggregateOf(row),
  };
}

/** An operation with the aggregate of its entity, for the steps that end it without a trace. */
export interface OperationForStep {
  readonly operation: OperationRow;
  readonly records: Aggregate | null;
}

/** The entity of an operation (see `lockEntity`); no row if the operation or its entity is unknown. */
const lockEntityOfOperationStatement = defineStatement<{ operation_id: string }>(
  'ctp_lock_entity_of_operation',
  `select 1 as one from ctp_operation o
     join business_entity e on e.tenant = o.tenant and e.entity_id = o.entity_id
    where o.id = $operation_id::uuid for update of e`,
);

export function lockEntityOfOperation(operationId: string): Statement {
  return lockEntityOfOperationStatement({ operation_id: operationId }, { lock: { operationId } });
}

/** The operation and its entity's aggregate (the entity found as in `readTraceForResolve`). */
const readOperationForStepStatement = defineStatement<{ operation_id: string }, OperationColumns>(
  'ctp_read_operation_for_step',
  `select ${OPERATION_COLUMNS}, a.*
     from ctp_operation o
     left join (select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM}
                 where (e.tenant, e.entity_id) = (select tenant, entity_id from ctp_operation
                                                   where id = $operation_id::uuid)) a
       on true
    where o.id = $operation_id::uuid`,
);

export function readOperationForStep(operationId: string): Statement {
  return readOperationForStepStatement({ operation_id: operationId });
}

export function operationForStepFrom(rows: unknown[] | undefined): OperationForStep | null {
  const row = rows?.[0] as OperationColumns | undefined;
  return row === undefined ? null : { operation: operationOf(row), records: aggregateOf(row) };
}

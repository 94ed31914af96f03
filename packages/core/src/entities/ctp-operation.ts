import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type { DataAdjustment } from '../contracts/network-rules.ts';
import { CTP_EVENTS } from '../lifecycle/events.ts';
import { OPERATION_STATUSES, type OperationStatus } from '../lifecycle/statuses.ts';
import type { RequestPlan } from '../lifecycle/transitions.ts';

/** A SaaS request frozen at the start of its operation: the event and the body without `accountNumber`. */
export interface FrozenSaasRequest {
  readonly event: string;
  readonly body: Record<string, unknown>;
}

import {
  createdAtColumn,
  externalIdColumn,
  tenantColumn,
  updatedAtColumn,
  versionColumn,
} from './columns.ts';

/**
 * The lifecycle's plan for the operation (`planRequest`): the touched records' statuses before
 * it (what a FAILED outcome restores) and while it runs (what the outcome expects to find).
 */
export type StatusPlan = RequestPlan;

/** Statuses that hold the entity's single in-flight slot (`uq_ctp_operation_in_flight`). */
export const IN_FLIGHT_OPERATION_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
] as const satisfies readonly OperationStatus[];

/** One CTP operation a client started: the row the API's `operationId` names. */
export const CtpOperation = defineEntity({
  name: 'CtpOperation',
  tableName: 'ctp_operation',
  properties: {
    /** Chosen by the application, so the 202 answer can carry it before the flush. */
    id: p.uuid().primary(),
    tenant: tenantColumn,
    event: p.enum(CTP_EVENTS),
    entityId: externalIdColumn,
    kitNumber: externalIdColumn.nullable(),
    status: p.enum(OPERATION_STATUSES).default('QUEUED'),
    attempts: p.integer().default(0),
    errorCode: p.string().length(64).nullable(),
    errorMessage: p.text().nullable(),
    errorDetails: p.text().nullable(),
    idempotencyKey: p.string().length(255).nullable(),
    /** Hash of the client request, to tell a replay from a reuse of the key for another request. */
    requestHash: p.string().length(64).nullable(),
    requestTraceId: p.string().nullable(),
    statusBefore: p.json<StatusPlan>().nullable(),
    /**
     * The SaaS request as it was built when the operation started, without the PAN (inserted from
     * the kit at each attempt). Every retry sends exactly this body under the same
     * `Idempotency-Key`: a profile change between two attempts must not make the SaaS see another
     * request under a key whose work it may already have done.
     */
    requestBody: p.json<FrozenSaasRequest>().nullable(),
    /**
     * What the frozen request changed in our records' data to meet the card network's rules
     * without changing meaning (an address line wrapped, a refused character replaced). Empty
     * or null when it sends the data as stored.
     */
    dataAdjustments: p.json<DataAdjustment[]>().nullable(),
    reason: p.text().nullable(),
    version: versionColumn,
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
    completedAt: p.datetime().nullable(),
    /** Times the sweeper re-drove the submit job after it ended failed (bounded: `SWEEP_MAX_REDRIVES`). */
    redrives: p.integer().default(0),
    lastRedrivenAt: p.datetime().nullable(),
    /**
     * The W3C `traceparent` of the request that started the operation (null when tracing was
     * off): every later step, in any process and after any crash or retry, continues this trace.
     */
    traceparent: p.string().length(55).nullable(),
  },
  uniques: [
    { name: 'uq_ctp_operation_tenant_idempotency_key', properties: ['tenant', 'idempotencyKey'] },
    {
      // The database, not a read-then-write in the application, guarantees one in-flight
      // operation per entity: two concurrent requests cannot both get in.
      name: 'uq_ctp_operation_in_flight',
      properties: ['tenant', 'entityId'],
      where: { status: { $in: [...IN_FLIGHT_OPERATION_STATUSES] } },
    },
  ],
  indexes: [
    { name: 'idx_ctp_operation_tenant_entity_id', properties: ['tenant', 'entityId'] },
    // The sweeper's scan: QUEUED operations by age, however many finished ones the table holds.
    { name: 'idx_ctp_operation_queued', properties: ['updatedAt'], where: { status: 'QUEUED' } },
  ],
});

export type CtpOperation = InferEntity<typeof CtpOperation>;

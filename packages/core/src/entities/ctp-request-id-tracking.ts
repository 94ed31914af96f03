import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CTP_EVENTS } from '../lifecycle/events.ts';
import { TRACE_STATUSES } from '../lifecycle/statuses.ts';
import {
  bigintPrimaryKey,
  createdAtColumn,
  externalIdColumn,
  tenantColumn,
  updatedAtColumn,
  versionColumn,
} from './columns.ts';
import { CtpOperation } from './ctp-operation.ts';

/** Seed table `ctp_requestIdTracking`: one row per request the SaaS accepted. */
export const CtpRequestIdTracking = defineEntity({
  name: 'CtpRequestIdTracking',
  tableName: 'ctp_requestIdTracking',
  properties: {
    pkey: bigintPrimaryKey,
    tenant: tenantColumn,
    requestTraceId: p.string().length(128).fieldName('request_trace_ID').unique('idx_ctp_requestIdTracking'),
    entityId: externalIdColumn,
    kitNumber: externalIdColumn.nullable(),
    event: p.enum(CTP_EVENTS),
    statusCtp: p.enum(TRACE_STATUSES),
    operation: p
      .oneToOne(CtpOperation)
      .owner()
      .ref()
      .fieldName('operation_id')
      .unique('uq_ctp_request_id_tracking_operation_id')
      .foreignKeyName('fk_ctp_request_id_tracking_operation'),
    errorCode: p.string().length(64).nullable(),
    errorMessage: p.text().nullable(),
    errorDetails: p.text().nullable(),
    pollAttempts: p.integer().default(0),
    nextPollAt: p.datetime().nullable(),
    resolvedAt: p.datetime().nullable(),
    version: versionColumn,
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
  },
  indexes: [
    {
      // The poller's queue: unresolved traces by when they are due, in the poller's order
      // (never-polled first), so a claim reads the head of the index instead of sorting.
      name: 'idx_ctp_request_id_tracking_due',
      properties: ['nextPollAt'],
      columns: [{ name: 'next_poll_at', nulls: 'first' }],
      where: { statusCtp: 'IN_PROGRESS' },
    },
  ],
});

export type CtpRequestIdTracking = InferEntity<typeof CtpRequestIdTracking>;

import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { createdAtColumn, externalIdColumn, tenantColumn } from './columns.ts';

export const HISTORY_RECORDS = ['entity', 'kit', 'trace'] as const;
export type HistoryRecord = (typeof HISTORY_RECORDS)[number];

/**
 * Every status change of an entity, a kit or a request trace: from, to, why, under which
 * operation. Written by the lifecycle step itself, in the transaction that makes the change, so
 * the history can neither miss a change nor record one that rolled back.
 */
export const CtpStatusHistory = defineEntity({
  name: 'CtpStatusHistory',
  tableName: 'ctp_status_history',
  properties: {
    pkey: p.bigint('string').primary().autoincrement(),
    tenant: tenantColumn,
    entityId: externalIdColumn,
    kitNumber: p.string().length(64).nullable(),
    record: p.enum(HISTORY_RECORDS),
    fromStatus: p.string().length(32).nullable(),
    toStatus: p.string().length(32),
    /** E.g. `CTP_REGISTER_ENTITY_AND_KIT requested`, `CTP_REMOVE_KIT FAILED`, `network: DISABLED`. */
    cause: p.string().length(128),
    operationId: p.uuid().nullable(),
    requestTraceId: p.string().length(128).nullable(),
    createdAt: createdAtColumn,
  },
  indexes: [{ name: 'idx_ctp_status_history_entity', properties: ['tenant', 'entityId', 'createdAt'] }],
});

export type CtpStatusHistory = InferEntity<typeof CtpStatusHistory>;

import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { createdAtColumn, externalIdColumn, tenantColumn, updatedAtColumn } from './columns.ts';

/** Kept here (not in `batches/`) so the entities import nothing with I/O. */
export const BATCH_STATUSES = ['RUNNING', 'COMPLETED', 'CANCELLED'] as const;
export const BATCH_ITEM_STATUSES = [
  'PENDING',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'SKIPPED',
  'REJECTED',
  'CANCELLED',
] as const;

/**
 * A portfolio batch (platform contract, "Batches: enrolling a portfolio"). Written only by
 * `batches/store.ts`, with fixed statements; the entity describes the table for the schema
 * comparison and the dashboard's reads. Counts are read from the items; a batch that ended keeps
 * them in `finalCounts`. No card data.
 */
export const CtpBatch = defineEntity({
  name: 'CtpBatch',
  tableName: 'ctp_batch',
  properties: {
    id: p.uuid().primary(),
    tenant: tenantColumn,
    externalBatchId: p.string().length(64).nullable(),
    requestHash: p.string().length(64),
    status: p.enum(BATCH_STATUSES),
    finalCounts: p.json<Record<string, number>>().nullable(),
    leaseUntil: p.datetime().nullable(),
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
    completedAt: p.datetime().nullable(),
  },
  indexes: [
    { name: 'idx_ctp_batch_tenant_created', properties: ['tenant', 'createdAt', 'id'] },
    { name: 'idx_ctp_batch_open', properties: ['createdAt'], where: { completedAt: null } },
  ],
  // NULLs are distinct: only batches that name an external id are unique by it.
  uniques: [{ name: 'uq_ctp_batch_external_id', properties: ['tenant', 'externalBatchId'] }],
});

export type CtpBatch = InferEntity<typeof CtpBatch>;

/** One item of a batch: ids, status, reason, never card data. */
export const CtpBatchItem = defineEntity({
  name: 'CtpBatchItem',
  tableName: 'ctp_batch_item',
  properties: {
    batch: () => p.manyToOne(CtpBatch).primary().deleteRule('cascade'),
    seq: p.integer().primary(),
    entityId: externalIdColumn,
    kitNumber: externalIdColumn,
    status: p.enum(BATCH_ITEM_STATUSES),
    operationId: p.uuid().nullable(),
    reason: p.string().length(64).nullable(),
    error: p.json<Record<string, unknown>>().nullable(),
    updatedAt: updatedAtColumn,
  },
  indexes: [{ name: 'idx_ctp_batch_item_status', properties: ['batch', 'status', 'seq'] }],
});

export type CtpBatchItem = InferEntity<typeof CtpBatchItem>;

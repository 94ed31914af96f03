import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { createdAtColumn, externalIdColumn, tenantColumn } from './columns.ts';

/**
 * The events an automatic update starts (seed, "Automatic CTP Updates"), and a new card's
 * auto-enrolment (`CTP_REGISTER_ENTITY_AND_KIT`, promoted as `CTP_ADD_KIT` for an enrolled entity).
 */
export const SYNC_EVENTS = ['CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT', 'CTP_REGISTER_ENTITY_AND_KIT'] as const;
export type SyncEvent = (typeof SYNC_EVENTS)[number];

/**
 * An automatic update waiting its turn: one row per (entity, event, kit), so a burst of profile
 * changes coalesces into one pending sync; it becomes an ordinary operation once the entity has
 * no operation in flight, and its body is built from the records as they are then (the latest
 * committed data). `kit_number` is '' for entity-level syncs, so the unique key needs no NULLs.
 */
export const CtpPendingSync = defineEntity({
  name: 'CtpPendingSync',
  tableName: 'ctp_pending_sync',
  properties: {
    pkey: p.bigint('string').primary().autoincrement(),
    tenant: tenantColumn,
    entityId: externalIdColumn,
    event: p.enum(SYNC_EVENTS),
    kitNumber: p.string().length(64).default(''),
    createdAt: createdAtColumn,
  },
  uniques: [{ name: 'uq_ctp_pending_sync', properties: ['tenant', 'entityId', 'event', 'kitNumber'] }],
});

export type CtpPendingSync = InferEntity<typeof CtpPendingSync>;

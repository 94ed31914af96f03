import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CTP_EVENTS, type CtpEvent } from '../lifecycle/events.ts';
import { createdAtColumn, externalIdColumn, tenantColumn } from './columns.ts';

/**
 * The events the platform's records start by themselves: automatic updates (seed, "Automatic CTP
 * Updates") and the removal of a closed card or customer. Every CTP event may wait here, so work
 * the records start later (enrolment of a new card) needs no new constraint.
 */
export const SYNC_EVENTS = CTP_EVENTS;
export type SyncEvent = CtpEvent;

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

import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { createdAtColumn, externalIdColumn, tenantColumn, updatedAtColumn } from './columns.ts';

/** Who started a reconciliation: a client (`POST /v1/ctp/reconciliations`) or the schedule. */
export const RECONCILIATION_TRIGGERS = ['REQUEST', 'SCHEDULE'] as const;
export type ReconciliationTrigger = (typeof RECONCILIATION_TRIGGERS)[number];

export const RECONCILIATION_STATUSES = ['RUNNING', 'COMPLETED'] as const;
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number];

/** One entity of a reconciliation: waiting, claimed by a worker (under a lease), or checked. */
export const RECONCILIATION_ITEM_STATUSES = ['PENDING', 'CLAIMED', 'DONE'] as const;
export type ReconciliationItemStatus = (typeof RECONCILIATION_ITEM_STATUSES)[number];

/**
 * What the check of one entity found: it agreed with the network, drifted (each difference is a
 * `ctp_reconciliation_drift` row), was skipped (an operation in flight owns it), or could not be
 * checked (the SaaS failed, or its answer was malformed or carried a card number).
 */
export const RECONCILIATION_OUTCOMES = ['AGREED', 'DRIFTED', 'SKIPPED', 'ERROR'] as const;
export type ReconciliationOutcome = (typeof RECONCILIATION_OUTCOMES)[number];

/** What was done about a difference. */
export const DRIFT_ACTIONS = [
  /** Our status or id was set to the network's. */
  'REPAIRED',
  /** The network holds our data out of date: `CTP_UPDATE_ENTITY` / `CTP_UPDATE_KIT` queued. */
  'UPDATE_QUEUED',
  /** The same in a dry run: nothing was changed. */
  'WOULD_REPAIR',
  'WOULD_UPDATE',
  /** An operation in flight owns the entity: not compared, never raced. */
  'SKIPPED_IN_FLIGHT',
  /** Nothing of ours to change (a card the network holds that we do not know, stale data of a record not ACTIVE). */
  'REPORTED',
] as const;
export type DriftAction = (typeof DRIFT_ACTIONS)[number];

/**
 * A reconciliation with the network: on request (of some entities or of every one on CTP) or one
 * period of the schedule (every entity on CTP once, paced over `period_ms`). Its counts are those
 * of its items. Written only by `reconciliation/store.ts`.
 */
export const CtpReconciliation = defineEntity({
  name: 'CtpReconciliation',
  tableName: 'ctp_reconciliation',
  properties: {
    id: p.uuid().primary(),
    tenant: tenantColumn,
    trigger: p.enum(RECONCILIATION_TRIGGERS),
    dryRun: p.boolean(),
    status: p.enum(RECONCILIATION_STATUSES),
    /** The ids a client named; null: every entity on CTP when it started. */
    requestedEntityIds: p.json<string[]>().nullable(),
    /** The schedule's pace: its items are spread over this long. Null: as fast as the share allows. */
    periodMs: p.bigint('number').nullable(),
    /**
     * `true` while a scheduled reconciliation runs, null otherwise: the unique key
     * `(tenant, running_schedule)` keeps one schedule per tenant however many workers tick.
     */
    runningSchedule: p.boolean().nullable(),
    idempotencyKey: p.string().length(255).nullable(),
    requestHash: p.string().length(64).nullable(),
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
    completedAt: p.datetime().nullable(),
  },
  uniques: [
    { name: 'uq_ctp_reconciliation_idempotency', properties: ['tenant', 'idempotencyKey'] },
    { name: 'uq_ctp_reconciliation_schedule', properties: ['tenant', 'runningSchedule'] },
  ],
  indexes: [
    { name: 'idx_ctp_reconciliation_tenant', properties: ['tenant', 'createdAt'] },
    { name: 'idx_ctp_reconciliation_status', properties: ['status'] },
  ],
});
export type CtpReconciliation = InferEntity<typeof CtpReconciliation>;

export const CtpReconciliationItem = defineEntity({
  name: 'CtpReconciliationItem',
  tableName: 'ctp_reconciliation_item',
  properties: {
    reconciliationId: p.uuid().primary(),
    entityId: externalIdColumn.primary(),
    tenant: tenantColumn,
    /** The order items are checked in (entity id order when the reconciliation started). */
    position: p.integer(),
    status: p.enum(RECONCILIATION_ITEM_STATUSES),
    claimedUntil: p.datetime().nullable(),
    outcome: p.enum(RECONCILIATION_OUTCOMES).nullable(),
    repaired: p.boolean().default(false),
    /** Why the check failed (masked: never a card number). */
    error: p.string().length(512).nullable(),
    checkedAt: p.datetime().nullable(),
  },
  indexes: [
    { name: 'idx_ctp_reconciliation_item_next', properties: ['reconciliationId', 'status', 'position'] },
  ],
});
export type CtpReconciliationItem = InferEntity<typeof CtpReconciliationItem>;

/**
 * One difference a reconciliation found: a field of an entity or kit, ours and the network's
 * value (ids, statuses, profile fields, expiry, last four digits: never a card number), and what
 * was done about it.
 */
export const CtpReconciliationDrift = defineEntity({
  name: 'CtpReconciliationDrift',
  tableName: 'ctp_reconciliation_drift',
  properties: {
    pkey: p.bigint('string').primary().autoincrement(),
    reconciliationId: p.uuid(),
    tenant: tenantColumn,
    entityId: externalIdColumn,
    kitNumber: p.string().length(64).nullable(),
    field: p.string().length(64),
    ours: p.string().length(512).nullable(),
    network: p.string().length(512).nullable(),
    action: p.string().length(32),
    createdAt: createdAtColumn,
  },
  indexes: [{ name: 'idx_ctp_reconciliation_drift_run', properties: ['reconciliationId', 'pkey'] }],
});
export type CtpReconciliationDrift = InferEntity<typeof CtpReconciliationDrift>;

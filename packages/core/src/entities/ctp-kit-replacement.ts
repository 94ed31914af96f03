import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { REPLACEMENT_REASONS } from '../lifecycle/rules.ts';
import { createdAtColumn, externalIdColumn, tenantColumn, updatedAtColumn } from './columns.ts';

export const REPLACEMENT_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED'] as const;
export type ReplacementStatus = (typeof REPLACEMENT_STATUSES)[number];

/**
 * The durable plan of a card replacement whose old card is on Click to Pay: the steps of its reason
 * (`REPLACEMENT_STEPS`), the one it is at, and the operation running it. Written only by
 * `operations/kit-replacement.ts`; advanced under the entity lock by the promotion that follows
 * each operation's end, so a crash between two steps loses nothing.
 */
export const CtpKitReplacement = defineEntity({
  name: 'CtpKitReplacement',
  tableName: 'ctp_kit_replacement',
  properties: {
    id: p.uuid().primary(),
    tenant: tenantColumn,
    entityId: externalIdColumn,
    oldKitNumber: externalIdColumn,
    newKitNumber: externalIdColumn,
    reason: p.enum(REPLACEMENT_REASONS),
    status: p.enum(REPLACEMENT_STATUSES).default('RUNNING'),
    /** Index into the reason's steps; equal to their count once every step is done. */
    step: p.smallint().default(0),
    /** Operations started for the current step (a failed one is retried up to the configured count). */
    attempts: p.smallint().default(0),
    /** The operation of the current step's latest attempt. */
    operationId: p.uuid().nullable(),
    /** A failed step's retry is not started before this. */
    nextAttemptAt: p.datetime().nullable(),
    /** Why a plan ended `FAILED`, and what it left at the network. */
    error: p.text().nullable(),
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
    completedAt: p.datetime().nullable(),
  },
  indexes: [{ name: 'idx_ctp_kit_replacement_entity', properties: ['tenant', 'entityId'] }],
  uniques: [{ name: 'uq_ctp_kit_replacement_new_kit', properties: ['tenant', 'newKitNumber'] }],
});

export type CtpKitReplacement = InferEntity<typeof CtpKitReplacement>;

import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { createdAtColumn, tenantColumn } from './columns.ts';

/** `job`: work for a worker; `notification`: an entry for the `m2p.notification.all` stream. */
export const OUTBOX_KINDS = ['job', 'notification'] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

/** Flat on purpose: the outbox carries ids and statuses, never card data. */
export type OutboxPayload = Record<string, string | number | boolean | null>;

/**
 * Transactional outbox: written in the same transaction as the state change it announces,
 * published afterwards, so a commit is never lost and a rollback never announced.
 */
export const CtpOutbox = defineEntity({
  name: 'CtpOutbox',
  tableName: 'ctp_outbox',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    tenant: tenantColumn,
    kind: p.enum(OUTBOX_KINDS),
    topic: p.string().length(128),
    operationId: p.uuid().nullable(),
    /** E.g. the notificationId: a re-run of the same step cannot add a second row. */
    dedupeKey: p.string().length(255).unique('uq_ctp_outbox_dedupe_key'),
    payload: p.json<OutboxPayload>(),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    availableAt: p
      .datetime()
      .defaultRaw('now()')
      .onCreate(() => new Date()),
    publishedAt: p.datetime().nullable(),
    /**
     * A relay's lease on the row: claimed (and committed) before it publishes, so no transaction
     * is held across Redis. Until it passes, other relays leave the row alone; a relay that died
     * leaves it to expire, and the row is relayed again (job ids and notification ids make that
     * harmless).
     */
    claimedUntil: p.datetime().nullable(),
    createdAt: createdAtColumn,
  },
  indexes: [
    { name: 'idx_ctp_outbox_unpublished', properties: ['id'], where: { publishedAt: null } },
    // Retention's scan: published rows, oldest publication first.
    { name: 'idx_ctp_outbox_published', properties: ['publishedAt'], where: { publishedAt: { $ne: null } } },
  ],
});

export type CtpOutbox = InferEntity<typeof CtpOutbox>;

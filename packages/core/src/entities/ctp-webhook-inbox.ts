import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { tenantColumn } from './columns.ts';

/**
 * Webhooks taken in, keyed by their Standard Webhooks `webhook-id` so a redelivery is a no-op.
 * A row is finished when it is processed (pruned after `WEBHOOK_INBOX_RETENTION_MS`) or parked
 * (its processing failed `WEBHOOK_MAX_ATTEMPTS` times: kept, out of every scan, for a human).
 */
export const CtpWebhookInbox = defineEntity({
  name: 'CtpWebhookInbox',
  tableName: 'ctp_webhook_inbox',
  properties: {
    webhookId: p.string().primary(),
    tenant: tenantColumn,
    type: p.string().length(128),
    payload: p.json<Record<string, unknown>>(),
    receivedAt: p
      .datetime()
      .defaultRaw('now()')
      .onCreate(() => new Date()),
    processedAt: p.datetime().nullable(),
    /** Processing tries that failed (the job's retries and the sweeper's re-drives alike). */
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    parkedAt: p.datetime().nullable(),
  },
  indexes: [
    {
      // The sweeper's scan: unfinished rows by age.
      name: 'idx_ctp_webhook_inbox_unprocessed',
      properties: ['receivedAt'],
      where: { processedAt: null, parkedAt: null },
    },
    {
      // The dashboard's list and the `ctp_webhooks_parked` gauge.
      name: 'idx_ctp_webhook_inbox_parked',
      properties: ['parkedAt'],
      where: { parkedAt: { $ne: null } },
    },
    {
      // Retention: the oldest processed rows first.
      name: 'idx_ctp_webhook_inbox_processed',
      properties: ['processedAt'],
      where: { processedAt: { $ne: null } },
    },
  ],
});

export type CtpWebhookInbox = InferEntity<typeof CtpWebhookInbox>;

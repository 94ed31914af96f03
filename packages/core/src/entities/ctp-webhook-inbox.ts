import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { tenantColumn } from './columns.ts';

/** Webhooks taken in, keyed by their Standard Webhooks `webhook-id` so a redelivery is a no-op. */
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
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
  },
});

export type CtpWebhookInbox = InferEntity<typeof CtpWebhookInbox>;

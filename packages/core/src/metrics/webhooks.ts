import { Counter, type Registry } from 'prom-client';

export const WEBHOOK_RESULTS = ['recorded', 'duplicate', 'bad_signature', 'invalid'] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

export interface WebhookMetrics {
  readonly deliveries: Counter<'result'>;
  delivered(result: WebhookResult): void;
}

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const deliveries = new Counter({
    name: 'ctp_webhook_deliveries_total',
    help: 'SaaS webhook deliveries received, by result (recorded, duplicate, bad_signature, invalid)',
    labelNames: ['result'],
    registers: [registry],
  });
  // Every result from the first scrape on, so a rate() over a result that never happened is 0, not absent.
  for (const result of WEBHOOK_RESULTS) deliveries.inc({ result }, 0);
  return { deliveries, delivered: (result) => deliveries.inc({ result }) };
}

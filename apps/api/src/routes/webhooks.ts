import { webhookBodySchema } from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import type { WebhookResult } from '@ctp/core/metrics';
import { recordWebhook } from '@ctp/core/operations';
import { verifyWebhook } from '@ctp/core/webhooks';
import type { Orm } from '@ctp/db';
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface WebhookRoutesDependencies {
  readonly orm: Orm;
  readonly webhookSecret: string;
  /** Each delivery's result, for metrics. */
  readonly onDelivery?: (result: WebhookResult) => void;
}

const receivedSchema = z
  .object({ received: z.literal(true), duplicate: z.boolean() })
  .meta({ id: 'WebhookReceived' });

const route = createRoute({
  method: 'post',
  path: '/v1/ctp/webhooks/saas',
  operationId: 'receiveSaasWebhook',
  tags: ['CTP SaaS webhooks'],
  security: [],
  summary: 'The CTP SaaS webhook receiver (Standard Webhooks signature, not an API key)',
  description:
    'Verifies `webhook-signature` over the raw body and `webhook-timestamp` within 5 minutes, records the delivery durably (deduplicated by `webhook-id`), then answers 200. Any other answer makes the SaaS redeliver.',
  responses: {
    200: { description: 'Recorded', content: json(receivedSchema) },
    ...errorResponses(400, 401, 413, 415, 503),
  },
});

export function createWebhookRoutes({ orm, webhookSecret, onDelivery }: WebhookRoutesDependencies) {
  return createRouter().openapi(route, async (c) => {
    // The signature covers the raw bytes: read them before anything parses the body.
    const raw = await c.req.text();
    const verified = verifyWebhook(webhookSecret, c.req.raw.headers, raw);
    if (!verified.ok) {
      onDelivery?.('bad_signature');
      throw new DomainError('UNAUTHORIZED', `webhook signature refused: ${verified.error}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      onDelivery?.('invalid');
      throw new DomainError('VALIDATION_FAILED', 'the body is not JSON');
    }
    const body = webhookBodySchema.safeParse(json);
    if (!body.success) {
      onDelivery?.('invalid');
      const details = body.error.issues.map((issue) => ({
        field: issue.path.join('.'),
        message: issue.message,
      }));
      throw new DomainError('VALIDATION_FAILED', 'the webhook body does not match the contract', details);
    }
    const fresh = await recordWebhook(orm.em, { webhookId: verified.value.id, body: body.data });
    onDelivery?.(fresh ? 'recorded' : 'duplicate');
    c.var.logger.info(
      { webhookId: verified.value.id, type: body.data.type, duplicate: !fresh },
      'webhook recorded',
    );
    return c.json({ received: true as const, duplicate: !fresh }, 200);
  });
}

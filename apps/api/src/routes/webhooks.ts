import type { WebhookBody } from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import type { WebhookResult } from '@ctp/core/metrics';
import { operationTraceparentOfTrace, receiveWebhook, SqlSession } from '@ctp/core/operations';
import { inSpan, SPAN_ATTRIBUTES, tracingEnabled } from '@ctp/core/tracing';
import { readWebhookDelivery, webhookVerifier } from '@ctp/core/webhooks';
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
    'Verifies `webhook-signature` over the raw body and `webhook-timestamp` within 5 minutes, records the delivery durably (deduplicated by `webhook-id`; the outcome of a stored trace is applied in the same transaction when its trace is stored), then answers 200. Any other answer makes the SaaS redeliver. Text is stored with card numbers masked and NUL or lone surrogates replaced by U+FFFD; a `webhook-id` or field too long for its column is refused with 400.',
  responses: {
    200: { description: 'Recorded', content: json(receivedSchema) },
    ...errorResponses(400, 401, 413, 415, 503),
  },
});

export function createWebhookRoutes({ orm, webhookSecret, onDelivery }: WebhookRoutesDependencies) {
  const verify = webhookVerifier(webhookSecret);
  return createRouter().openapi(route, async (c) => {
    // The signature covers the raw bytes: read them before anything parses the body.
    const delivery = readWebhookDelivery(verify, c.req.raw.headers, await c.req.text());
    if (!delivery.ok) {
      const refusal = delivery.error;
      onDelivery?.(refusal.kind);
      if (refusal.kind === 'bad_signature')
        throw new DomainError('UNAUTHORIZED', `webhook signature refused: ${refusal.reason}`);
      throw new DomainError('VALIDATION_FAILED', refusal.message, refusal.details);
    }
    const { webhookId, body } = delivery.value;
    const receipt = await inSpan(
      'ctp webhook receive',
      {
        parent: await operationTraceOf(orm, body),
        attributes: {
          [SPAN_ATTRIBUTES.webhookId]: webhookId,
          [SPAN_ATTRIBUTES.tenant]: body.tenant,
          ...(body.type === 'request.completed'
            ? {
                [SPAN_ATTRIBUTES.requestTraceId]: body.data.requestTraceId,
                [SPAN_ATTRIBUTES.event]: body.data.event,
                [SPAN_ATTRIBUTES.outcome]: body.data.status,
              }
            : {}),
        },
      },
      () => receiveWebhook(orm.em, { webhookId, body }),
    );
    const duplicate = receipt === 'duplicate';
    onDelivery?.(duplicate ? 'duplicate' : 'recorded');
    c.var.logger.info({ webhookId, type: body.type, receipt }, 'webhook recorded');
    return c.json({ received: true as const, duplicate }, 200);
  });
}

/**
 * With tracing on, the stored trace of the operation a trace result is about: the delivery joins
 * it whether or not the SaaS passed a `traceparent` on. Null for network changes and when off.
 */
async function operationTraceOf(orm: Orm, body: WebhookBody): Promise<string | null> {
  if (!tracingEnabled() || body.type !== 'request.completed') return null;
  const [row] = await SqlSession.runAlone(
    orm.em.fork(),
    operationTraceparentOfTrace({ tenant: body.tenant, request_trace_id: body.data.requestTraceId }),
  );
  return row?.traceparent ?? null;
}

import { type WebhookBody, webhookBodySchema } from '../contracts/saas.ts';
import { err, ok, type Result } from '../lifecycle/result.ts';
import { webhookIdProblem } from '../operations/record-webhook.ts';
import { cleanInboundText, readInboundJson } from '../text/inbound.ts';
import type { WebhookVerificationFailure, WebhookVerifier } from './standard-webhooks.ts';

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export type WebhookRefusal =
  | { readonly kind: 'bad_signature'; readonly reason: WebhookVerificationFailure }
  | { readonly kind: 'invalid'; readonly message: string; readonly details?: readonly FieldProblem[] };

export interface WebhookDelivery {
  readonly webhookId: string;
  /** Validated, its text made storable and masked (`text/inbound.ts`): what the inbox stores. */
  readonly body: WebhookBody;
}

/**
 * The webhook receiver's edge, in order: the signature over the raw body as it came (nothing
 * may change a byte before that), then the id and the body read through the one inbound text
 * gate, then the contract's schema and the columns' bounds. A refusal writes nothing. Text the
 * database cannot store as sent (NUL, lone surrogates) is not a refusal: it is replaced, and the
 * delivery is taken in (a refused one would be redelivered for 27 hours).
 */
export function readWebhookDelivery(
  verify: WebhookVerifier,
  headers: Headers,
  raw: string,
): Result<WebhookDelivery, WebhookRefusal> {
  const verified = verify(headers, raw);
  if (!verified.ok) return err({ kind: 'bad_signature', reason: verified.error });
  const webhookId = cleanInboundText(verified.value.id);
  const idProblem = webhookIdProblem(webhookId);
  if (idProblem !== null) {
    return err({
      kind: 'invalid',
      message: 'the webhook-id header cannot be recorded',
      details: [{ field: 'webhook-id', message: idProblem }],
    });
  }
  const json = readInboundJson(raw);
  if (!json.ok) return err({ kind: 'invalid', message: 'the body is not JSON' });
  const body = webhookBodySchema.safeParse(json.value);
  if (!body.success) {
    return err({
      kind: 'invalid',
      message: 'the webhook body does not match the contract',
      // Paths and messages only; the paths are cleaned keys.
      details: body.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
    });
  }
  return ok({ webhookId, body: body.data });
}

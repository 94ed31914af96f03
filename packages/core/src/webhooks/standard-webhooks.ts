import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { err, ok, type Result } from '../lifecycle/result.ts';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing and verification, as the CTP
 * SaaS contract prescribes: `webhook-signature: v1,<base64 HMAC-SHA256 over
 * "<webhook-id>.<webhook-timestamp>.<raw body>">`, keyed with the base64 part of `whsec_<base64>`.
 * The signature itself is the reference `standardwebhooks` package's, not a copy of it: it
 * compares the canonical base64 text of the signature, so trailing characters, another base64
 * alphabet or missing padding never match (Node's lenient base64 decoder accepted all three).
 * Around it we keep a typed result with the reason, and a stricter timestamp (digits only: the
 * package's `parseInt` reads "17e8" as 17).
 */

export type WebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

export type WebhookVerificationFailure =
  | 'MISSING_HEADERS'
  | 'INVALID_TIMESTAMP'
  | 'TIMESTAMP_TOO_OLD'
  | 'TIMESTAMP_TOO_NEW'
  | 'NO_MATCHING_SIGNATURE';

export interface VerifiedWebhook {
  readonly id: string;
  readonly timestamp: number;
}

/** Headers for one delivery attempt of message `id` (stable across redeliveries). */
export function signWebhook(
  secret: string,
  id: string,
  body: string,
  now: Date = new Date(),
): WebhookHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, now, body),
  };
}

type HeaderSource = Headers | Readonly<Record<string, string | undefined>>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return headers[name] ?? undefined;
}

/** The package's refusals by message (pinned version; the tests cover each). */
const FAILURE_BY_MESSAGE: Readonly<Record<string, WebhookVerificationFailure>> = {
  'Missing required headers': 'MISSING_HEADERS',
  'Invalid Signature Headers': 'INVALID_TIMESTAMP',
  'Message timestamp too old': 'TIMESTAMP_TOO_OLD',
  'Message timestamp too new': 'TIMESTAMP_TOO_NEW',
  'No matching signature found': 'NO_MATCHING_SIGNATURE',
};

export type WebhookVerifier = (
  headers: HeaderSource,
  rawBody: string,
) => Result<VerifiedWebhook, WebhookVerificationFailure>;

/**
 * A verifier for one secret. Built once at start-up, so a secret the package cannot read fails
 * the boot instead of every delivery. The signature header may carry several space-separated
 * `v1,<sig>` entries (key rotation on the sender side); one match suffices. The timestamp must
 * be within 5 minutes of now, either way.
 */
export function webhookVerifier(secret: string): WebhookVerifier {
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch {
    // Never echo the secret.
    throw new Error('the webhook secret is not whsec_ followed by base64');
  }
  return (headers, rawBody) => {
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    if (!id || !timestamp || !signature) return err('MISSING_HEADERS');
    if (!/^[0-9]{1,12}$/.test(timestamp)) return err('INVALID_TIMESTAMP');
    try {
      webhook.verify(
        rawBody,
        { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
        { jsonParse: false },
      );
    } catch (error) {
      if (error instanceof WebhookVerificationError)
        return err(FAILURE_BY_MESSAGE[error.message] ?? 'NO_MATCHING_SIGNATURE');
      throw error;
    }
    return ok({ id, timestamp: Number(timestamp) });
  };
}

/** Verifies one delivery over its raw body (see `webhookVerifier`). */
export function verifyWebhook(
  secret: string,
  headers: HeaderSource,
  rawBody: string,
): Result<VerifiedWebhook, WebhookVerificationFailure> {
  return webhookVerifier(secret)(headers, rawBody);
}

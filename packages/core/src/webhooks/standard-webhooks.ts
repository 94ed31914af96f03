import { createHmac, timingSafeEqual } from 'node:crypto';
import { err, ok, type Result } from '../lifecycle/result.ts';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing and verification, as the CTP
 * SaaS contract prescribes: `webhook-signature: v1,<base64 HMAC-SHA256 over
 * "<webhook-id>.<webhook-timestamp>.<raw body>">`, keyed with the base64 part of `whsec_<base64>`.
 * Written on node:crypto (native HMAC, `timingSafeEqual`) and tested against the public
 * `standardwebhooks` package in both directions, so we interoperate with any sender.
 */

export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;
const SECRET_PREFIX = 'whsec_';

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

/** The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in the reference libraries). */
export function webhookKey(secret: string): Buffer {
  return Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    'base64',
  );
}

function signature(key: Buffer, id: string, timestamp: number | string, body: string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
}

/** Headers for one delivery attempt of message `id` (stable across redeliveries). */
export function signWebhook(
  secret: string,
  id: string,
  body: string,
  now: Date = new Date(),
): WebhookHeaders {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature(webhookKey(secret), id, timestamp, body).toString('base64')}`,
  };
}

type HeaderSource = Headers | Readonly<Record<string, string | undefined>>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  return headers[name] ?? undefined;
}

/**
 * Verifies a delivery over its raw body. The signature header may carry several
 * space-separated `v1,<sig>` entries (key rotation on the sender side); one match suffices.
 * Every comparison is constant-time.
 */
export function verifyWebhook(
  secret: string,
  headers: HeaderSource,
  rawBody: string,
  options: { now?: Date; toleranceSeconds?: number } = {},
): Result<VerifiedWebhook, WebhookVerificationFailure> {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) return err('MISSING_HEADERS');
  if (!/^[0-9]{1,12}$/.test(timestampText)) return err('INVALID_TIMESTAMP');
  const timestamp = Number(timestampText);
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  if (timestamp < now - tolerance) return err('TIMESTAMP_TOO_OLD');
  if (timestamp > now + tolerance) return err('TIMESTAMP_TOO_NEW');

  const expected = signature(webhookKey(secret), id, timestampText, rawBody);
  for (const entry of signatures.split(' ')) {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || value === undefined) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return ok({ id, timestamp });
  }
  return err('NO_MATCHING_SIGNATURE');
}

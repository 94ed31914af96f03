import { maskPansIn } from '../cards/pan.ts';

export const REDACTED = '[REDACTED]';

/**
 * Keys whose values are secrets or card data, compared lower-case with `-` and `_` removed.
 * Matched at any depth of a logged object.
 */
const SECRET_KEYS = new Set(
  [
    'pan',
    'accountNumber',
    'cardNumber',
    'panCiphertext',
    'cvv',
    'cvv2',
    'cvc',
    'securityCode',
    'authorization',
    'proxyAuthorization',
    'cookie',
    'setCookie',
    'apiKey',
    'xApiKey',
    'apiKeys',
    'password',
    'secret',
    'webhookSecret',
    'ctpWebhookSecret',
    'ctpSaasApiKey',
    'panEncryptionKey',
    'dashboardPassword',
    'token',
    'accessToken',
    'refreshToken',
    'clientSecret',
    'webhookSignature',
  ].map(normaliseKey),
);

function normaliseKey(key: string): string {
  return key.replace(/[-_]/g, '').toLowerCase();
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(normaliseKey(key));
}

/** Secrets that may sit inside free text: bearer tokens and Standard Webhooks secrets. */
const SECRET_IN_TEXT = [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, /\bwhsec_[A-Za-z0-9+/=]+/g] as const;

/**
 * Masks PANs and secrets inside a string (a log message, an error message, a stack); with
 * `json`, inside a finished JSON line, keeping it valid JSON.
 */
export function scrubText(text: string, options: { json?: boolean } = {}): string {
  let out = maskPansIn(text, options);
  for (const pattern of SECRET_IN_TEXT) {
    out = out.replace(pattern, (m) =>
      m.startsWith('whsec_') ? `whsec_${REDACTED}` : `${m.split(/\s+/)[0]} ${REDACTED}`,
    );
  }
  return out;
}

/**
 * A deep copy of `value` with secret keys redacted and every string scrubbed. Errors become
 * plain objects (type, message, stack, code, cause) so their text is scrubbed too. Cycles and
 * depth are bounded: a logger must never throw or hang on what it is given.
 */
export function scrubValue(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth > 12) return '[Truncated]';
  seen.add(value);
  if (value instanceof Error) return scrubValue(errorToObject(value), depth, seen);
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretKey(key) ? REDACTED : scrubValue(item, depth + 1, seen);
  }
  return out;
}

function errorToObject(error: Error): Record<string, unknown> {
  const extra: Record<string, unknown> = { ...error };
  return {
    ...extra,
    type: error.name,
    message: error.message,
    stack: error.stack,
    ...(error.cause === undefined ? {} : { cause: error.cause }),
  };
}

import { findPans, maskPansIn } from '../cards/pan.ts';
import { err, ok, type Result } from '../lifecycle/result.ts';

/**
 * The one gate for text that enters from the CTP SaaS: webhook bodies, `/status` and `/getData`
 * answers, synchronous error bodies. Whatever passes it is made
 * - storable: PostgreSQL refuses U+0000 in `text` and `jsonb` (08P01, 22P05), and a lone UTF-16
 *   surrogate has no UTF-8 form (the driver would store it silently altered; `jsonb` refuses its
 *   `\uD800` escape). Both become U+FFFD, the character Unicode keeps for "something was here
 *   that could not be kept", so a reader sees the replacement. The SaaS is not refused for them:
 *   a refused webhook is redelivered for 27 hours and its outcome would never be applied.
 * - masked: every card number becomes its first 6 and last 4 digits (PCI DSS 3.4.1), before
 *   anything stores, logs, serves or notifies the text. Keys are cleaned as values are, and a
 *   card number written as a bare JSON number becomes a masked string.
 * Both are idempotent, so text cleaned twice (a stored webhook parsed again) does not change.
 */
export function cleanInboundText(text: string): string {
  return maskPansIn(text.toWellFormed().replaceAll('\u0000', '\uFFFD'));
}

/** `JSON.parse`'s reviver context (Node ≥ 21): the source text of a primitive value. */
interface ReviverContext {
  readonly source?: string;
}

function revive(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value === 'string') return cleanInboundText(value);
  if (typeof value === 'number') {
    // The source, not the number: a 19-digit card number does not survive as a double.
    const source = context?.source ?? String(value);
    const masked = maskPansIn(source);
    return masked === source ? value : masked;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.some(([key]) => cleanInboundText(key) !== key)) {
      // fromEntries defines own properties: a "__proto__" key stays data, never a prototype.
      return Object.fromEntries(entries.map(([key, v]) => [cleanInboundText(key), v]));
    }
  }
  return value;
}

/**
 * Whether the reviver could change anything of this JSON text: only through a card number in
 * it, a `\u` escape (NUL and lone surrogates can only be written so in JSON, and an escaped
 * digit could spell a card number the raw text does not show) or a lone surrogate in the string
 * itself. Without any, every string, key and number is the raw text's own characters (the other
 * escapes make quotes, backslashes and control characters, never digits, spaces or dashes), so
 * the raw text holds a card number exactly when a parsed value would. Most texts (every webhook
 * of a completed request) have none and are parsed without the reviver, which costs JSON.parse
 * a call per value.
 */
function mayNeedCleaning(text: string): boolean {
  return text.includes('\\u') || !text.isWellFormed() || findPans(text).length > 0;
}

/** Parses a JSON text that came from the SaaS, every string, key and number cleaned. */
export function readInboundJson(text: string): Result<unknown, 'NOT_JSON'> {
  try {
    if (!mayNeedCleaning(text)) return ok(JSON.parse(text));
    return ok(JSON.parse(text, revive as (key: string, value: unknown) => unknown));
  } catch {
    return err('NOT_JSON');
  }
}

/** The same cleaning for a value already parsed (the details of an error we are about to keep). */
export function cleanInbound<T>(value: T): T {
  const cleaned = readInboundJson(JSON.stringify(value));
  return (cleaned.ok ? cleaned.value : value) as T;
}

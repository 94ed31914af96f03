/**
 * Card-number helpers shared by the masking at the API, the log scrubber and the leak scans.
 */

/** Luhn (mod 10) check over a string of digits. */
export function isLuhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** First 6 and last 4 digits, the rest masked (PCI DSS display rule). */
export function maskPan(pan: string): string {
  if (pan.length < 13) return '*'.repeat(pan.length);
  return `${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`;
}

/**
 * Runs of 13–19 digits (judged by `isPlausiblePan`), written plain or grouped as people write card
 * numbers (4-4-4-4…, Amex 4-6-5, one space or dash between groups). Runs are taken whole, so a
 * longer number is not mistaken for a PAN hidden inside it, and other digit-dash shapes (a
 * Redis stream id `1795566515238-1`, a date) are not card numbers.
 */
const PAN_CANDIDATE = new RegExp(
  [
    // 13–19 digits in a row (no UUID or hex id holds such a run).
    '(?<![0-9.]|[0-9]-)[0-9]{13,19}(?![0-9]|-[0-9])',
    // Grouped, and standing apart: digit groups glued to letters or other groups are pieces of
    // an identifier (a UUID's "4796-5847-4347-9e10"), not a card written out.
    '(?<![0-9A-Za-z.]|[0-9A-Za-z]-)(?:[0-9]{4}([ -])[0-9]{4}\\1[0-9]{4}\\1[0-9]{1,7}|[0-9]{4}([ -])[0-9]{6}\\2[0-9]{5})(?![0-9A-Za-z]|-[0-9A-Za-z])',
  ].join('|'),
  'g',
);

/**
 * Could these digits be a payment card number? 13 to 19 digits, Luhn-valid, and a major
 * industry identifier of a card network (2 Mastercard, 3 Amex/Diners/JCB, 4 Visa, 5 Mastercard,
 * 6 Discover/UnionPay/Maestro); the only 13-digit cards are Visa's. This keeps millisecond
 * timestamps (13 digits starting with 1, found all over job queues and logs) from being taken
 * for cards, one in ten of which would pass the Luhn check alone.
 */
export function isPlausiblePan(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19 || !isLuhnValid(digits)) return false;
  const first = digits.charAt(0);
  if (digits.length === 13) return first === '4';
  return first >= '2' && first <= '6';
}

export function findPans(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(PAN_CANDIDATE)) {
    if (isPlausiblePan(match[0].replace(/[ -]/g, ''))) found.push(match[0]);
  }
  return found;
}

/**
 * W3C trace-context ids where our own processes write them: a `traceparent` value
 * (`00-<32 hex>-<16 hex>-<2 hex>`) and the JSON fields of a log line or an OTLP span
 * (`trace_id`, `span_id`, `traceId`, `spanId`, `parentSpanId`). They are random hex, and about one
 * id in two thousand holds a Luhn-valid run of 13+ digits between its letters: a coincidence, not
 * a card (one such trace id failed a CI run's span scan). Only these exact shapes are set aside,
 * so a card number glued into other text is still found.
 */
const TRACE_CONTEXT_ID = new RegExp(
  [
    '(?<![0-9A-Za-z])00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?![0-9A-Za-z])',
    '"(?:trace_id|traceId)"\\s*:\\s*"[0-9a-f]{32}"',
    '"(?:span_id|spanId|parentSpanId)"\\s*:\\s*"[0-9a-f]{16}"',
  ].join('|'),
  'g',
);

/**
 * `findPans` for the leak scans over what our own processes wrote (logs, Redis, the database,
 * exported spans): the same search, with trace-context ids set aside. Text from outside is judged
 * by `findPans` and masked by `maskPansIn`, which make no such exception.
 */
export function findLeakedPans(text: string): string[] {
  return findPans(text.replace(TRACE_CONTEXT_ID, (id) => id.replace(/[0-9]/g, '0')));
}

/**
 * Replaces every PAN-looking run in `text` by its masked form. With `json`, `text` is a JSON
 * document: a PAN that stands as a bare number (`"pan":4111…`) is replaced by a quoted string,
 * so the line stays valid JSON.
 */
export function maskPansIn(text: string, options: { json?: boolean } = {}): string {
  return text.replace(PAN_CANDIDATE, (run, ...rest: unknown[]) => {
    const digits = run.replace(/[ -]/g, '');
    if (!isPlausiblePan(digits)) return run;
    const offset = rest.find((value) => typeof value === 'number') ?? 0;
    const before = text.slice(0, offset).trimEnd().at(-1);
    const bare = options.json === true && (before === ':' || before === ',' || before === '[');
    return bare ? `"${maskPan(digits)}"` : maskPan(digits);
  });
}

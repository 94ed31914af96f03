import { z } from 'zod';

/**
 * The card network's data rules (Visa, passed on by the SaaS: `ctp-saas.md`, "Network data
 * rules (v2)"), in one place. The SaaS wire schemas (`saas.ts`) are built from them, so the
 * simulator refuses what Visa refuses and our client never sends it; our API's edge uses
 * `fitBillingAddress` to decide, before anything is stored or queued, whether a customer's
 * address can be sent (cleaned where that keeps its meaning) or must be refused.
 *
 * Pure: no I/O, no state; the simulator imports it as it is.
 */
export const NETWORK_RULES = {
  /** `billingAddress.line1`–`line3`: each at most this long. */
  addressLineMax: 64,
  /** How many billing-address lines the network takes. */
  addressLines: 3,
  cityMax: 32,
  postalCodeMax: 9,
  nameOnCardMax: 120,
  externalConsumerIdMax: 100,
} as const;

/** The characters the network refuses in any billing-address field. */
export const ADDRESS_FORBIDDEN_CHARACTERS = '[]{}:&$^!=;*#`<>"\u201d@';
// A character class of exactly those characters (escaping the ones a class gives a meaning).
const FORBIDDEN_CLASS = `[${ADDRESS_FORBIDDEN_CHARACTERS.replace(/[\\\][^-]/g, '\\$&')}]`;
const FORBIDDEN = new RegExp(FORBIDDEN_CLASS);
const FORBIDDEN_ALL = new RegExp(FORBIDDEN_CLASS, 'g');

const FORBIDDEN_MESSAGE = `must not contain any of ${[...ADDRESS_FORBIDDEN_CHARACTERS].join(' ')}`;

/** A billing-address field as the network takes it: no forbidden character, at most `max`. */
export function networkAddressText(max: number, min = 0): z.ZodString {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((text) => !FORBIDDEN.test(text), FORBIDDEN_MESSAGE);
}

const countryCode = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 country code');

/** `billingAddress` on the wire. */
export const billingAddressSchema = z.strictObject({
  line1: networkAddressText(NETWORK_RULES.addressLineMax, 1),
  line2: networkAddressText(NETWORK_RULES.addressLineMax).optional(),
  line3: networkAddressText(NETWORK_RULES.addressLineMax).optional(),
  city: networkAddressText(NETWORK_RULES.cityMax, 1),
  state: networkAddressText(100).optional(),
  postalCode: networkAddressText(NETWORK_RULES.postalCodeMax, 1),
  countryCode,
});
export type BillingAddress = z.infer<typeof billingAddressSchema>;

export const nameOnCardSchema = z.string().min(1).max(NETWORK_RULES.nameOnCardMax);
export const externalConsumerIdSchema = z.string().min(1).max(NETWORK_RULES.externalConsumerIdMax);

/** A customer's address as our API takes and stores it. */
export interface CustomerAddress {
  readonly line1: string;
  readonly line2?: string | undefined;
  readonly city: string;
  readonly state?: string | undefined;
  readonly postalCode: string;
  readonly countryCode: string;
}

/** A change made to meet the network's rules without changing meaning, for the operation's record. */
export interface DataAdjustment {
  /** The field of our record (`address.line1`). */
  readonly field: string;
  /** What was done, naming the fields of the SaaS request that carry the result. */
  readonly message: string;
}

/** Why an address cannot be sent: the field of our record, relative to the address. */
export interface AddressProblem {
  readonly field: keyof CustomerAddress;
  readonly message: string;
}

export type AddressFit =
  | { readonly ok: true; readonly address: BillingAddress; readonly adjustments: DataAdjustment[] }
  | { readonly ok: false; readonly problems: AddressProblem[] };

/**
 * Replacements that keep a character's role where there is one (brackets stay brackets, a
 * quote stays a quote, `&` stays "and", `;` a separator); everything else becomes a space.
 */
const REPLACEMENT: Readonly<Record<string, string>> = {
  '[': '(',
  ']': ')',
  '{': '(',
  '}': ')',
  '"': "'",
  '\u201d': "'",
  '&': '+',
  ';': ',',
};

/** The text with every forbidden character replaced, and the characters that were. */
export function cleanAddressText(text: string): { readonly text: string; readonly replaced: string[] } {
  const replaced = new Set<string>();
  const cleaned = text.replace(FORBIDDEN_ALL, (character) => {
    replaced.add(character);
    return REPLACEMENT[character] ?? ' ';
  });
  if (replaced.size === 0) return { text, replaced: [] };
  // A character that became a space may stand next to another space, or at an end.
  return { text: cleaned.replace(/ {2,}/g, ' ').trim(), replaced: [...replaced] };
}

/**
 * Greedy word wrap at white space into lines of at most `width`; `null` when a single word is
 * longer than a line (breaking inside a word could change what the address says).
 */
function wrap(text: string, width: number): string[] | null {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (word.length > width) return null;
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line = `${line} ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

const LINE_FIELDS = ['line1', 'line2', 'line3'] as const;

/**
 * The billing address the network will take for `address`, with what had to change, or the
 * fields that cannot be made to fit without changing what they say: a city or postal code that
 * is too long, lines that do not fit in three of 64 characters, a field left empty once its
 * forbidden characters are gone.
 */
export function fitBillingAddress(address: CustomerAddress): AddressFit {
  const problems: AddressProblem[] = [];
  const adjustments: DataAdjustment[] = [];
  const clean = (field: keyof CustomerAddress, required: boolean): string | undefined => {
    const value = address[field];
    if (value === undefined) return undefined;
    const { text, replaced } = cleanAddressText(value);
    if (replaced.length > 0) {
      adjustments.push({
        field: `address.${field}`,
        message: `replaced ${replaced.join(' ')}: characters the network refuses in an address`,
      });
    }
    if (text === '' && required) {
      problems.push({
        field,
        message: 'has nothing left once the characters the network refuses are removed',
      });
    }
    return text === '' ? undefined : text;
  };
  const line1 = clean('line1', true);
  const line2 = clean('line2', false);
  const city = clean('city', true);
  const state = clean('state', false);
  const postalCode = clean('postalCode', true);
  if (city !== undefined && city.length > NETWORK_RULES.cityMax)
    problems.push({ field: 'city', message: `must be at most ${NETWORK_RULES.cityMax} characters` });
  if (postalCode !== undefined && postalCode.length > NETWORK_RULES.postalCodeMax)
    problems.push({
      field: 'postalCode',
      message: `must be at most ${NETWORK_RULES.postalCodeMax} characters`,
    });

  // Each of our lines keeps its own start; one too long continues on the next wire line.
  const lines: string[] = [];
  for (const [field, text] of [
    ['line1', line1],
    ['line2', line2],
  ] as const) {
    if (text === undefined) continue;
    const wrapped = wrap(text, NETWORK_RULES.addressLineMax);
    if (wrapped === null) {
      problems.push({
        field,
        message: `has a word longer than ${NETWORK_RULES.addressLineMax} characters, the network's line length`,
      });
      continue;
    }
    const first = lines.length;
    lines.push(...wrapped);
    if (lines.length > NETWORK_RULES.addressLines) {
      problems.push({
        field,
        message: `does not fit: the network takes ${NETWORK_RULES.addressLines} address lines of at most ${NETWORK_RULES.addressLineMax} characters`,
      });
      break;
    }
    const sentAs = LINE_FIELDS.slice(first, lines.length).map((f) => `billingAddress.${f}`);
    if (wrapped.length > 1) {
      adjustments.push({
        field: `address.${field}`,
        message: `longer than ${NETWORK_RULES.addressLineMax} characters: wrapped at word boundaries into ${sentAs.join(', ')}`,
      });
    } else if (sentAs[0] !== `billingAddress.${field}`) {
      adjustments.push({
        field: `address.${field}`,
        message: `sent as ${sentAs[0]}, after the wrapped line above`,
      });
    } else if (wrapped[0] !== text) {
      adjustments.push({ field: `address.${field}`, message: 'runs of white space sent as one space' });
    }
  }

  if (problems.length > 0 || line1 === undefined || city === undefined || postalCode === undefined) {
    return { ok: false, problems };
  }
  const [wire1 = line1, wire2, wire3] = lines;
  return {
    ok: true,
    address: {
      line1: wire1,
      ...(wire2 === undefined ? {} : { line2: wire2 }),
      ...(wire3 === undefined ? {} : { line3: wire3 }),
      city,
      ...(state === undefined ? {} : { state }),
      postalCode,
      countryCode: address.countryCode,
    },
    adjustments,
  };
}

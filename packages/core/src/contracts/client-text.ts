import { z } from 'zod';
import { findPans } from '../cards/pan.ts';

/**
 * The one building block for text a client writes: every string field of a request body, every
 * path parameter and every header value we keep. Field schemas are built from it (`clientText`,
 * or `clientText(options, z.email())` to add its rules to a string format), so a new field gets
 * the rules by construction rather than by someone remembering them.
 *
 * - No NUL: PostgreSQL cannot store it in text (the wire protocol fails with 08P01, which reads
 *   as an outage, and jsonb with 22P05), so it would answer 5xx and make clients retry forever.
 * - No lone surrogate: it is not Unicode; the driver would store a replacement character, so
 *   what we keep would not be what was sent.
 * - No card number: the PAN has one field (`pan`) and one encrypted column; a card number typed
 *   into a name, an address or a key would be stored in the clear and echoed back.
 * - Lengths are judged after trimming, and the trimmed value is what is kept (`trim: false` for
 *   identifiers, which must arrive exactly as they will be addressed).
 *
 * Messages describe the rule, never the value, so a refused card number is not echoed.
 */
export interface ClientTextOptions {
  /** Fewest characters, after trimming (default 1). */
  readonly min?: number;
  /** Most characters, after trimming. */
  readonly max: number;
  /** Trim surrounding white space before the length checks (default true). */
  readonly trim?: boolean;
}

export const CLIENT_TEXT_MESSAGES = {
  nul: 'must not contain a NUL character (\\u0000)',
  surrogate: 'must be valid Unicode text (it holds a lone surrogate)',
  card: 'must not contain a card number',
} as const;

/** A string schema that `clientText` can add its rules to: `z.string()` or a string format. */
type StringSchema = z.ZodString | z.ZodStringFormat;

export function clientText(options: ClientTextOptions): z.ZodString;
export function clientText<S extends StringSchema>(options: ClientTextOptions, base: S): S;
export function clientText(
  { min = 1, max, trim = true }: ClientTextOptions,
  base: StringSchema = z.string(),
): StringSchema {
  // A value that cannot be stored is told about that first, and about nothing else but its
  // length. Not `abort`: an aborting issue makes a union (`consent` or `null`) report on itself
  // instead of on the field.
  const clean = { when: (payload: z.core.ParsePayload) => payload.issues.length === 0 };
  const checked = base
    .refine((text) => !text.includes('\u0000'), CLIENT_TEXT_MESSAGES.nul)
    .refine((text) => text.isWellFormed(), { message: CLIENT_TEXT_MESSAGES.surrogate, ...clean })
    .refine((text) => findPans(text).length === 0, { message: CLIENT_TEXT_MESSAGES.card, ...clean });
  return (trim ? checked.trim() : checked).min(min).max(max);
}

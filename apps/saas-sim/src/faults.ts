import { z } from 'zod';

/**
 * Fault injection settings. All off by default; set at boot from SAAS_SIM_FAULTS (a JSON
 * object) and changed at run time by `POST /__sim/faults` with a partial object. Rates are
 * probabilities in [0, 1], drawn independently per request or per webhook message.
 */

const rate = z.number().min(0).max(1);

const msRange = z
  .strictObject({ min: z.number().int().min(0).max(600_000), max: z.number().int().min(0).max(600_000) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['max'] });

export const faultsSchema = z.strictObject({
  /** The trace ends FAILED with REQUEST_REJECTED instead of SUCCESS. */
  rejectionRate: rate.default(0),
  /** Answer 500/502/503/504 without doing the work. */
  rate5xx: rate.default(0),
  /** Answer 429 RATE_LIMITED with `Retry-After: retryAfterSeconds`, without doing the work. */
  rate429: rate.default(0),
  retryAfterSeconds: z.number().int().min(0).max(3600).default(1),
  /** Uniform extra latency before every contract answer. */
  latencyMs: msRange.default({ min: 0, max: 0 }),
  /** Do the work, store the 202 under the idempotency key, answer 500/503 instead. */
  lostAnswerRate: rate.default(0),
  /** The webhook message is never delivered (polling must still resolve the trace). */
  webhookDropRate: rate.default(0),
  /** The webhook message is delivered twice (same webhook-id). */
  webhookDuplicateRate: rate.default(0),
  /** Uniform extra delay per delivery, so deliveries overtake each other. */
  webhookDelayMs: msRange.default({ min: 0, max: 0 }),
  /** Complete the trace and deliver its webhook before the 202 answer is sent. */
  webhookBeforeAcceptRate: rate.default(0),
  /**
   * Free text the network writes into its answers, as a careless network might (a card number
   * quoted in an error, a NUL): a rejected trace's `error.message` and `error.details` (in its
   * webhook and on `/status`), and the consumer's `lastName` on `/getData`. What is left unset
   * keeps the simulator's own text.
   */
  answerText: z
    .strictObject({
      rejectionMessage: z.string().max(500).optional(),
      rejectionDetails: z.string().max(500).optional(),
      getDataLastName: z.string().max(500).optional(),
    })
    .default({}),
});

export type Faults = z.infer<typeof faultsSchema>;
export type FaultsInput = z.input<typeof faultsSchema>;

/**
 * The patch laid over the current set and validated whole, so an omitted knob keeps its value
 * (`.partial()` would fill omitted knobs with their defaults) and cross-field rules still hold.
 */
export function applyFaultsPatch(current: Faults, patch: unknown) {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return faultsSchema.safeParse(patch);
  }
  return faultsSchema.safeParse({ ...current, ...patch });
}

export const NO_FAULTS: Faults = faultsSchema.parse({});

/** Parses SAAS_SIM_FAULTS; the error names the knob, never echoes the value. */
export function parseFaultsJson(raw: string): Faults {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('SAAS_SIM_FAULTS must be a JSON object, e.g. {"rate5xx":0.1}');
  }
  const parsed = faultsSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`SAAS_SIM_FAULTS is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

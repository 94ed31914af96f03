import { TraceNotYetKnown } from '@ctp/core/operations';
import { SaasError } from '@ctp/core/saas';

const BASE_MS = 500;
const CAP_MS = 5 * 60_000;
/**
 * The first retry of a completion whose trace is not stored yet: the webhook beat the worker's
 * record of the `202`, which commits a few milliseconds later. Half a second (the usual first
 * delay) was the whole of such an operation's latency tail; later tries keep the usual schedule,
 * so a trace that stays unknown (a worker died between the SaaS's answer and its record) still
 * has its tries spread over as long before the webhook is parked.
 */
const TRACE_NOT_YET_KNOWN_FIRST_MS = 50;

/**
 * Retry delay of a failed job: the SaaS's `Retry-After` when it sent one (plus a little jitter
 * so the waiting jobs do not return all in the same millisecond), otherwise exponential
 * backoff with "equal jitter" (half fixed, half random) capped at 5 minutes.
 */
export function retryDelay(
  attemptsMade: number,
  error: Error | undefined,
  random: () => number = Math.random,
): number {
  if (error instanceof SaasError && error.retryAfterMs !== undefined) {
    return error.retryAfterMs + Math.floor(random() * 250);
  }
  const base =
    error instanceof TraceNotYetKnown && attemptsMade <= 1 ? TRACE_NOT_YET_KNOWN_FIRST_MS : BASE_MS;
  const exponential = Math.min(CAP_MS, base * 2 ** Math.max(0, attemptsMade - 1));
  return Math.floor(exponential / 2 + random() * (exponential / 2));
}

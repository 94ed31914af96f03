import { SaasError } from '@ctp/core/saas';

const BASE_MS = 500;
const CAP_MS = 5 * 60_000;

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
  const exponential = Math.min(CAP_MS, BASE_MS * 2 ** Math.max(0, attemptsMade - 1));
  return Math.floor(exponential / 2 + random() * (exponential / 2));
}

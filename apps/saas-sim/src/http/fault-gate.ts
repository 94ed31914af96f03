import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { between, chance, type Random, sleep } from '../clock.ts';
import { SimError } from '../errors.ts';
import type { Faults } from '../faults.ts';
import type { SimEnv } from './env.ts';

const GATEWAY_STATUSES = [500, 502, 503, 504] as const satisfies readonly ContentfulStatusCode[];

/** A transient server error of the given status, in the contract's words. */
export function transientError(status: ContentfulStatusCode, message: string): SimError {
  return new SimError(status === 500 ? 'INTERNAL' : 'UNAVAILABLE', message, { status });
}

function pick<T>(random: Random, items: readonly [T, ...T[]]): T {
  return items[Math.floor(random() * items.length)] ?? items[0];
}

/**
 * The faults that act before a request reaches its endpoint: latency first (so a timed-out
 * client sees the delay whatever the answer), then 429 and 5xx, which do no work at all.
 */
export function faultGate(faults: () => Faults, random: Random): MiddlewareHandler<SimEnv> {
  return async (_c, next) => {
    const current = faults();
    const latency = between(random, current.latencyMs);
    if (latency > 0) await sleep(latency);
    if (chance(random, current.rate429)) {
      throw new SimError('RATE_LIMITED', 'too many requests', {
        headers: { 'Retry-After': String(current.retryAfterSeconds) },
      });
    }
    if (chance(random, current.rate5xx)) {
      throw transientError(pick(random, GATEWAY_STATUSES), 'the service is unavailable (simulated)');
    }
    await next();
  };
}

/** The status of a "lost answer": the work is done, the caller sees a transient error. */
export function lostAnswerError(random: Random): SimError {
  return transientError(pick(random, [500, 503]), 'the answer was lost (simulated); retry with the same key');
}

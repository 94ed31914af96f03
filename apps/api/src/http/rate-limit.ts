import { DomainError } from '@ctp/core/errors';
import { CoalescedLimiter } from '@ctp/core/runtime';
import type { MiddlewareHandler } from 'hono';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { ApiEnv } from './env.ts';

/**
 * Per-tenant rate limit on the api, shared by every api process through Redis. Over the limit:
 * `429 RATE_LIMITED` with `Retry-After`. If Redis is unreachable, an in-process limiter takes
 * over (the library's insurance limiter) rather than failing every request: the api stays up,
 * limited per process instead of per fleet. Concurrent requests of a tenant share one Redis call
 * (`CoalescedLimiter`), with exactly the answers each would have had.
 */
export function tenantRateLimit(options: {
  redis: Redis;
  prefix: string;
  perSecond: number;
}): MiddlewareHandler<ApiEnv> {
  const limiter = new CoalescedLimiter(
    new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: `${options.prefix}:api-rate`,
      points: options.perSecond,
      duration: 1,
      insuranceLimiter: new RateLimiterMemory({ points: options.perSecond, duration: 1 }),
    }),
  );
  return async (c, next) => {
    const tenant = c.var.tenant;
    if (tenant !== undefined) {
      const answer = await limiter.consume(tenant);
      if (!answer.allowed) {
        c.header('Retry-After', String(Math.max(1, Math.ceil(answer.msBeforeNext / 1000))));
        throw new DomainError(
          'RATE_LIMITED',
          `more than ${options.perSecond} requests per second for this tenant`,
        );
      }
    }
    await next();
  };
}

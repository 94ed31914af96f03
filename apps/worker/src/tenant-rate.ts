import { defineStatement, executeOnOrm } from '@ctp/core/operations';
import { CoalescedLimiter } from '@ctp/core/runtime';
import type { Orm } from '@ctp/db';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

const readTenantRate = defineStatement<{ tenant: string }, { rate: number | string | null }>(
  'ctp_settings_saas_rate',
  'select saas_rate_per_second as rate from ctp_tenant_settings where tenant = $tenant::text',
);

/** How long a tenant's rate is reused before PostgreSQL is asked again. */
const RATE_TTL_MS = 1_000;

/**
 * Per-tenant rate limit toward the SaaS, shared by every worker through Redis: the tenant's
 * `saasRatePerSecond` (CTP settings), or `SAAS_RATE_LIMIT_PER_SECOND` for a tenant without one.
 * The rate is read from PostgreSQL at most once a second per tenant and process, so a change
 * applies within a second everywhere, without a restart. A rate below 1/s is one request per
 * `1/rate` seconds. Each rate has its own Redis window (the key names it), so a change starts
 * a fresh window rather than judging the old count against the new limit. Concurrent takes of a
 * tenant share one Redis call (`CoalescedLimiter`), with exactly the answers each would have had.
 */
export class TenantRateLimiter {
  readonly #orm: Orm;
  readonly #redis: Redis;
  readonly #keyPrefix: string;
  readonly #defaultRate: number;
  readonly #rates = new Map<string, { rate: number; until: number }>();
  readonly #limiters = new Map<string, CoalescedLimiter>();

  constructor(options: { orm: Orm; redis: Redis; keyPrefix: string; defaultRate: number }) {
    this.#orm = options.orm;
    this.#redis = options.redis;
    this.#keyPrefix = options.keyPrefix;
    this.#defaultRate = options.defaultRate;
  }

  /** Takes one request of the tenant's rate: 0, or how many ms to wait before asking again. */
  async take(tenant: string): Promise<number> {
    const limiter = this.#limiterFor(await this.rateOf(tenant));
    const answer = await limiter.consume(tenant);
    return answer.allowed ? 0 : Math.max(1, answer.msBeforeNext);
  }

  /** The tenant's rate, requests per second. */
  async rateOf(tenant: string): Promise<number> {
    const cached = this.#rates.get(tenant);
    if (cached !== undefined && cached.until > Date.now()) return cached.rate;
    const [row] = await executeOnOrm(this.#orm.em, readTenantRate({ tenant }));
    const rate = row?.rate == null ? this.#defaultRate : Number(row.rate);
    this.#rates.set(tenant, { rate, until: Date.now() + RATE_TTL_MS });
    return rate;
  }

  #limiterFor(rate: number): CoalescedLimiter {
    const points = rate >= 1 ? Math.floor(rate) : 1;
    const duration = rate >= 1 ? 1 : Math.ceil(1 / rate);
    const key = `${points}/${duration}`;
    let limiter = this.#limiters.get(key);
    if (limiter === undefined) {
      limiter = new CoalescedLimiter(
        new RateLimiterRedis({
          storeClient: this.#redis,
          keyPrefix: `${this.#keyPrefix}:${key}`,
          points,
          duration,
        }),
      );
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }
}

import type { Config } from '@ctp/core/config';
import type { Logger } from '@ctp/core/logging';
import type { ReconcileMetrics } from '@ctp/core/metrics';
import { reconcileTick, type TickSummary } from '@ctp/core/reconciliation';
import type { SaasClient } from '@ctp/core/saas';
import { readCtpSettings } from '@ctp/core/settings';
import type { Orm } from '@ctp/db';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

/** Checks of one tick made at once (each is one `/getData` call and one short transaction). */
const TICK_CONCURRENCY = 8;

/**
 * The reconciliation share of a tenant's SaaS rate: `RECONCILE_SAAS_SHARE` of its
 * `saasRatePerSecond` (tenant settings, read at each tick so a change applies at once) or of
 * `SAAS_RATE_LIMIT_PER_SECOND`, as a token bucket in Redis that every worker draws from. A share
 * under one call a second becomes one call per so many seconds.
 */
export function reconcileBudget(input: { connection: Redis; prefix: string; config: Config; orm: Orm }) {
  const limiters = new Map<string, RateLimiterRedis>();
  const limiterFor = (perSecond: number) => {
    const duration = Math.max(1, Math.ceil(1 / perSecond));
    const points = Math.max(1, Math.floor(perSecond * duration));
    const key = `${points}/${duration}`;
    let limiter = limiters.get(key);
    if (limiter === undefined) {
      limiter = new RateLimiterRedis({
        storeClient: input.connection,
        keyPrefix: `${input.prefix}:reconcile-rate:${key}`,
        points,
        duration,
      });
      limiters.set(key, limiter);
    }
    return limiter;
  };
  return async (tenant: string, wanted: number): Promise<number> => {
    const settings = await readCtpSettings(input.orm.em.fork(), tenant);
    const rate = settings.saasRatePerSecond ?? input.config.SAAS_RATE_LIMIT_PER_SECOND;
    const limiter = limiterFor(rate * input.config.RECONCILE_SAAS_SHARE);
    const used = (await limiter.get(tenant))?.consumedPoints ?? 0;
    const take = Math.min(wanted, limiter.points - used);
    if (take <= 0) return 0;
    try {
      await limiter.consume(tenant, take);
      return take;
    } catch (rejection) {
      if (rejection instanceof Error) throw rejection;
      // Another worker took the rest of the window first.
      return 0;
    }
  };
}

export function reconcileTickJob(input: {
  connection: Redis;
  prefix: string;
  config: Config;
  orm: Orm;
  saas: SaasClient;
  logger: Logger;
  metrics?: ReconcileMetrics | undefined;
}): () => Promise<TickSummary> {
  const takeBudget = reconcileBudget(input);
  return () =>
    reconcileTick(
      { em: input.orm.em, saas: input.saas, logger: input.logger, metrics: input.metrics, takeBudget },
      { periodMs: input.config.RECONCILE_PERIOD, concurrency: TICK_CONCURRENCY },
    );
}

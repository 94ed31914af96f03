import type { Logger } from '@ctp/core/logging';
import type { MiddlewareHandler } from 'hono';
import type { Counters } from '../counters.ts';
import type { SimEnv } from './env.ts';

/**
 * Outermost on every contract route: counts the final status per endpoint (error answers
 * included, since `onError` has run by the time `next` returns) and logs the request at debug
 * level, never its body.
 */
export function countRequests(path: string, counters: Counters, logger: Logger): MiddlewareHandler<SimEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const endpoint = `${c.req.method} ${path}`;
    counters.request(endpoint, c.res.status);
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        {
          endpoint,
          status: c.res.status,
          ms: Math.round(performance.now() - started),
          tenant: c.get('tenant'),
          requestId: c.get('requestId'),
        },
        'request',
      );
    }
  };
}

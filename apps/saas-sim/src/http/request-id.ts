import type { MiddlewareHandler } from 'hono';
import type { Counters } from '../counters.ts';
import { type SimEnv, UUID } from './env.ts';

/**
 * `X-Request-Id` is for log correlation only: a request without one is still served (refusing
 * it would make a logging lapse an outage) but counted as a contract violation, so a test of
 * the platform can assert it always sends one.
 */
export function noteRequestId(counters: Counters): MiddlewareHandler<SimEnv> {
  return async (c, next) => {
    const requestId = c.req.header('x-request-id');
    if (requestId === undefined || requestId === '') counters.violation('missingRequestId');
    else if (!UUID.test(requestId)) counters.violation('malformedRequestId');
    c.set('requestId', requestId === '' ? undefined : requestId);
    await next();
  };
}

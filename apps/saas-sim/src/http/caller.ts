import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Counters } from '../counters.ts';
import { SimError } from '../errors.ts';
import type { SimEnv } from './env.ts';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * `Authorization: Bearer <key>` and `X-TENANT-ID` on every contract route; 401 otherwise.
 * The key is compared as SHA-256 digests with `timingSafeEqual`: equal lengths whatever was
 * sent, and no early exit that would time the key byte by byte. The key is checked before the
 * tenant, so tenants cannot be enumerated without it.
 */
export function requireCaller(options: {
  readonly apiKey: string;
  readonly tenants: ReadonlySet<string>;
  readonly counters: Counters;
}): MiddlewareHandler<SimEnv> {
  const expected = digest(options.apiKey);
  return async (c, next) => {
    const match = /^Bearer +(\S+) *$/i.exec(c.req.header('authorization') ?? '');
    const given = match?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      options.counters.violation('unauthorized');
      throw new SimError('UNAUTHORIZED', 'missing or bad API key');
    }
    const tenant = c.req.header('x-tenant-id');
    if (tenant === undefined || !options.tenants.has(tenant)) {
      options.counters.violation('unauthorized');
      throw new SimError('UNAUTHORIZED', 'missing or unknown tenant');
    }
    c.set('tenant', tenant);
    await next();
  };
}

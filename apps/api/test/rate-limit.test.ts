import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { scriptsRun, unreachableRedis } from '@ctp/core/queues/testing';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEnv } from '../src/http/env.ts';
import { handleError } from '../src/http/errors.ts';
import { tenantRateLimit } from '../src/http/rate-limit.ts';
import { DEMO, ENBD, errorOf, startTestApi, type TestApi } from './helpers.ts';

// Per-tenant rate limiting, shared through Redis: over the limit a tenant gets 429 with
// Retry-After; another tenant is not affected. Concurrent requests of a tenant share one Redis
// call, with exactly the answers each would have had; without Redis, the in-process limiter
// judges them alike.

const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `{rl-${randomBytes(4).toString('hex')}}`;
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ rateLimit: { redis, prefix, perSecond: 5 } });
});
afterAll(async () => {
  await api?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/**
 * The api's rate limit alone, in process: requests dispatched in one go reach the limiter
 * together, which requests over sockets do only by chance.
 */
function limitedApp(options: Parameters<typeof tenantRateLimit>[0]) {
  const app = new Hono<ApiEnv>();
  app.use(async (c, next) => {
    c.set('tenant', 'RL-BURST');
    await next();
  });
  app.use(tenantRateLimit(options));
  app.get('/', (c) => c.text('ok'));
  app.onError(handleError);
  return app;
}

describe('per-tenant rate limit', () => {
  it('answers 429 RATE_LIMITED with Retry-After past the limit, for that tenant only', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => api.call('GET', '/v1/entities/nobody', { as: ENBD })),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 404)).toHaveLength(5);
    expect(limited).toHaveLength(3);
    expect(
      errorOf(limited[0] ?? answers[0] ?? { status: 0, headers: new Headers(), text: '', body: undefined })
        .code,
    ).toBe('RATE_LIMITED');
    expect(Number(limited[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await api.call('GET', '/v1/entities/nobody', { as: DEMO })).status).toBe(404);
  });

  it('judges concurrent requests of a tenant in two Redis calls, exactly as 20 calls would', async () => {
    const limited = limitedApp({ redis, prefix: `${prefix}:burst`, perSecond: 5 });
    const { result, scripts } = await scriptsRun(redis, `${prefix}:burst`, () =>
      Promise.all(Array.from({ length: 20 }, () => limited.request('/'))),
    );
    expect(result.map((a) => a.status)).toEqual([...Array(5).fill(200), ...Array(15).fill(429)]);
    expect(Number(result[5]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The first request alone (its tenant's key was idle), then the 19 that arrived meanwhile.
    expect(scripts).toBe(2);
  });

  it('without Redis, limits concurrent requests in process, exactly as many', async () => {
    const unreachable = unreachableRedis();
    try {
      const limited = limitedApp({ redis: unreachable, prefix, perSecond: 5 });
      const answers = await Promise.all(Array.from({ length: 8 }, () => limited.request('/')));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      expect(Number(answers[5]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      unreachable.disconnect();
    }
  });
});

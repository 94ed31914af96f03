import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, ENBD, errorOf, startTestApi, type TestApi } from './helpers.ts';

// Per-tenant rate limiting, shared through Redis: over the limit a tenant gets 429 with
// Retry-After; another tenant is not affected.

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
});

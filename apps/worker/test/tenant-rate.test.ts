import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { DEFAULT_CTP_SETTINGS, replaceCtpSettings } from '@ctp/core/settings';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRateLimiter } from '../src/tenant-rate.ts';

// The per-tenant SaaS rate is the tenant's `saasRatePerSecond`, shared through Redis by every
// worker, the configured default for a tenant without one, and a change applies within a second.

let db: TestDatabase;
let redis: Redis;
const prefix = `{tr-${randomBytes(4).toString('hex')}}:saas-rate`;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await db.drop();
});

const limiter = () => new TenantRateLimiter({ orm: db.orm, redis, keyPrefix: prefix, defaultRate: 50 });

async function setRate(tenant: string, saasRatePerSecond: number) {
  const settings = { ...DEFAULT_CTP_SETTINGS, saasRatePerSecond };
  await replaceCtpSettings(db.orm.em, { tenant, actor: 'test', settings });
}

async function granted(limiters: TenantRateLimiter[], tenant: string, tries: number) {
  let count = 0;
  for (let i = 0; i < tries; i += 1)
    if ((await limiters[i % limiters.length]?.take(tenant)) === 0) count += 1;
  return count;
}

describe('per-tenant SaaS rate', () => {
  it("two workers together grant the tenant's rate per second, other tenants the default", async () => {
    await setRate('TR-SLOW', 3);
    const workers = [limiter(), limiter()];
    expect(await granted(workers, 'TR-SLOW', 10)).toBe(3);
    expect(await workers[0]?.take('TR-SLOW')).toBeGreaterThan(0);
    expect(await granted(workers, 'TR-OTHER', 10)).toBe(10);
  });

  it('a rate below one per second spaces requests out', async () => {
    await setRate('TR-TRICKLE', 0.5);
    const worker = limiter();
    expect(await worker.take('TR-TRICKLE')).toBe(0);
    const wait = await worker.take('TR-TRICKLE');
    expect(wait).toBeGreaterThan(1_000);
  });

  it('a changed rate applies within a second, without a restart', async () => {
    await setRate('TR-CHANGE', 1);
    const worker = limiter();
    expect(await worker.rateOf('TR-CHANGE')).toBe(1);
    await setRate('TR-CHANGE', 7);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await worker.rateOf('TR-CHANGE')).toBe(7);
    expect(await granted([worker], 'TR-CHANGE', 10)).toBe(7);
  });
});

import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { scriptsRun, unreachableRedis } from '@ctp/core/queues/testing';
import { DEFAULT_CTP_SETTINGS, replaceCtpSettings } from '@ctp/core/settings';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRateLimiter } from '../src/tenant-rate.ts';

// The per-tenant SaaS rate is the tenant's `saasRatePerSecond`, shared through Redis by every
// worker, the configured default for a tenant without one, and a change applies within a second.
// Concurrent takes of a tenant share one Redis call, with exactly the answers each would have had.

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

  it('concurrent takes over the rate: the first `rate` pass, the rest wait, in two Redis calls', async () => {
    await setRate('TR-BURST', 5);
    const worker = limiter();
    await worker.rateOf('TR-BURST');
    const { result: waits, scripts } = await scriptsRun(redis, prefix, () =>
      Promise.all(Array.from({ length: 20 }, () => worker.take('TR-BURST'))),
    );
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    for (const wait of waits.slice(5)) expect(wait).toBeGreaterThan(0);
    // The first take alone (its key was idle), then the 19 that arrived meanwhile together.
    expect(scripts).toBe(2);
  });

  it('takes one after another each go out alone, one Redis call each', async () => {
    const worker = limiter();
    await worker.rateOf('TR-IDLE');
    const { result: waits, scripts } = await scriptsRun(redis, prefix, async () => [
      await worker.take('TR-IDLE'),
      await worker.take('TR-IDLE'),
      await worker.take('TR-IDLE'),
    ]);
    expect(waits).toEqual([0, 0, 0]);
    expect(scripts).toBe(3);
  });

  it('a Redis error reaches every waiting take as an error', async () => {
    const unreachable = unreachableRedis();
    const worker = new TenantRateLimiter({
      orm: db.orm,
      redis: unreachable,
      keyPrefix: prefix,
      defaultRate: 50,
    });
    await worker.rateOf('TR-DOWN');
    const answers = await Promise.allSettled(Array.from({ length: 10 }, () => worker.take('TR-DOWN')));
    for (const answer of answers) {
      expect(answer.status).toBe('rejected');
      expect(answer.status === 'rejected' && answer.reason).toBeInstanceOf(Error);
    }
    unreachable.disconnect();
  });
});

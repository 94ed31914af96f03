import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../queues/redis.ts';
import { NotificationPublisher } from './publisher.ts';

// The stream entry's fields: `notificationId` and `payload` always, `traceparent` when the relay
// published it inside a trace (tracing on).

const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const stream = `publisher-test-${randomBytes(4).toString('hex')}`;
const publisher = new NotificationPublisher(redis, { stream, maxLength: 1_000, dedupeTtlSeconds: 60 });

afterAll(async () => {
  const keys = await redis.keys(`{${stream}}*`);
  await redis.del(stream, ...keys);
  await redis.quit();
});

const fieldsOf = (entry: [string, string[]] | undefined) => {
  const fields: Record<string, string> = {};
  const list = entry?.[1] ?? [];
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] ?? ''] = list[i + 1] ?? '';
  return fields;
};

describe('stream entry fields', () => {
  it('carry the traceparent when there is one, and only then', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await publisher.publish([
      { notificationId: 'n-traced', payload: '{"a":1}', traceparent },
      { notificationId: 'n-plain', payload: '{"b":2}' },
    ]);
    const [traced, plain] = await redis.xrange(stream, '-', '+');
    expect(fieldsOf(traced)).toEqual({ notificationId: 'n-traced', payload: '{"a":1}', traceparent });
    expect(fieldsOf(plain)).toEqual({ notificationId: 'n-plain', payload: '{"b":2}' });
  });
});

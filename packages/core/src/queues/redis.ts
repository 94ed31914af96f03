import { Redis, type RedisOptions } from 'ioredis';

/**
 * One way to connect to Redis. `maxRetriesPerRequest: null` is what BullMQ workers require
 * (a blocked command must wait for Redis to come back, not fail); producers share it so a
 * short Redis restart delays them instead of failing the request.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}

import { createRedis } from '@ctp/core/queues';
import type { Redis } from 'ioredis';
import { safeUrl } from './env.ts';

export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Connects before any command, so an unreachable Redis is one clear message and exit 69
 * instead of a command waiting for ever. `follow` (tail) keeps reconnecting afterwards, like
 * the apps; a one-shot command fails at the first lost connection.
 */
export async function connectRedis(url: string, options: { readonly follow: boolean }): Promise<Redis> {
  const redis = createRedis(url, {
    lazyConnect: true,
    connectTimeout: 5_000,
    ...(options.follow ? {} : { maxRetriesPerRequest: 1, retryStrategy: () => null }),
  });
  // ioredis reports connection trouble as 'error' events (without a listener they would crash
  // the process); the last one says why better than connect()'s "Connection is closed".
  let lastError: unknown;
  redis.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const cause = lastError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new RedisUnavailableError(`cannot reach Redis at ${safeUrl(url)} (REDIS_URL): ${reason}`);
  }
  return redis;
}

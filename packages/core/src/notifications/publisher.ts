import type { Redis, Result } from 'ioredis';
import { NOTIFICATION_STREAM } from '../contracts/notifications.ts';

export interface NotificationEntry {
  readonly notificationId: string;
  /** The seed's payload, serialised. */
  readonly payload: string;
  /** The W3C `traceparent` of the publication, for consumers that continue the trace. */
  readonly traceparent?: string;
}

/**
 * How long an appended notification id is remembered by every process that appends (the relay,
 * the api and the worker publishing their own rows): 7 days.
 */
export const NOTIFICATION_DEDUPE_TTL_S = 7 * 24 * 3600;

export interface PublisherOptions {
  readonly stream?: string;
  /** Approximate `MAXLEN` of the stream (retention); see docs/architecture.md. */
  readonly maxLength: number;
  /** How long an appended id is remembered, so a re-relayed outcome is not appended again. */
  readonly dedupeTtlSeconds: number;
}

/**
 * Appends and remembers in one atomic step: the `SET NX` of the id and the `XADD` happen in
 * one script, so an outcome the relay publishes twice (it died between `XADD` and marking the
 * outbox row published) is appended once, as long as Redis still remembers the id. Beyond that
 * window a duplicate is possible; it carries the same `notificationId`, so consumers drop it.
 * The dedupe key shares the stream's hash slot (`{stream}`), so the script runs on Redis Cluster.
 * With tracing on, an entry also has the field `traceparent` (W3C), the operation's trace.
 */
// The id is remembered only after the XADD succeeded: a script that fails halfway keeps the
// writes it made, so remembering first would skip an outcome whose append had failed.
const APPEND_ONCE = `
if redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local id
if ARGV[5] then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'notificationId', ARGV[3], 'payload', ARGV[4], 'traceparent', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'notificationId', ARGV[3], 'payload', ARGV[4])
end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return id`;

const APPEND_ONCE_COMMAND = 'ctpAppendOnce';

// The command `defineCommand` adds (ioredis's documented way to type it).
declare module 'ioredis' {
  interface RedisCommander<Context> {
    ctpAppendOnce(
      stream: string,
      publishedKey: string,
      dedupeTtlSeconds: number,
      maxLength: number,
      notificationId: string,
      payload: string,
      ...traceparent: string[]
    ): Result<string | null, Context>;
  }
}

export class NotificationPublisher {
  readonly #redis: Redis;
  readonly #stream: string;
  readonly #options: PublisherOptions;

  constructor(redis: Redis, options: PublisherOptions) {
    this.#redis = redis;
    this.#stream = options.stream ?? NOTIFICATION_STREAM;
    this.#options = options;
    // By its SHA once loaded (ioredis sends the script itself the first time on each connection,
    // and again after a NOSCRIPT): an EVAL carried the script's text with every entry, for Redis
    // to hash again each time.
    redis.defineCommand(APPEND_ONCE_COMMAND, { numberOfKeys: 2, lua: APPEND_ONCE });
  }

  /** Appends every entry, in order, in one round trip. Throws if Redis refused any of them. */
  async publish(entries: readonly NotificationEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const entry of entries) {
      pipeline.ctpAppendOnce(
        this.#stream,
        `{${this.#stream}}:published:${entry.notificationId}`,
        this.#options.dedupeTtlSeconds,
        this.#options.maxLength,
        entry.notificationId,
        entry.payload,
        ...(entry.traceparent === undefined ? [] : [entry.traceparent]),
      );
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error !== null);
    if (failed?.[0]) throw failed[0];
  }
}

import type { Redis } from 'ioredis';

/**
 * Duplicate suppression by `notificationId`, shared by every consumer of one group (a
 * duplicate append may be delivered to another consumer than the original), for a bounded
 * window. One key per notification and group:
 * - `handling:<streamId>` while a consumer runs the handler (expires after `leaseMs`, so a
 *   dead consumer cannot block the notification for ever);
 * - `done` once handled, kept for `windowMs`: a later copy is acknowledged without running
 *   the handler.
 * The key shares the stream's hash slot (`{stream}`), so marking done and XACK run in one
 * script, on Redis Cluster too: an entry is never acknowledged without being marked, nor
 * marked without being acknowledged.
 */

export type DedupeClaim =
  /** Run the handler. */
  | 'start'
  /** Already handled within the window: acknowledge, do not run the handler. */
  | 'duplicate'
  /** Another copy (another stream entry) is being handled right now: leave this one pending. */
  | 'busy';

// The same entry redelivered (claimed from a dead consumer) takes its own lease over.
const BEGIN = `
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 'duplicate' end
if v and v ~= ARGV[1] then return 'busy' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'start'`;

const COMPLETE = `
redis.call('SET', KEYS[2], 'done', 'PX', ARGV[3])
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface DedupeOptions {
  readonly stream: string;
  readonly group: string;
  readonly windowMs: number;
  readonly leaseMs: number;
}

export class NotificationDedupe {
  readonly #redis: Redis;
  readonly #options: DedupeOptions;

  constructor(redis: Redis, options: DedupeOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  key(notificationId: string): string {
    return `{${this.#options.stream}}:consumed:${this.#options.group}:${notificationId}`;
  }

  async begin(notificationId: string, streamId: string): Promise<DedupeClaim> {
    const result = await this.#redis.eval(
      BEGIN,
      1,
      this.key(notificationId),
      `handling:${streamId}`,
      this.#options.leaseMs,
    );
    return result === 'duplicate' || result === 'busy' ? result : 'start';
  }

  /** Marks the notification handled and acknowledges the entry, atomically. */
  async complete(notificationId: string, streamId: string): Promise<void> {
    await this.#redis.eval(
      COMPLETE,
      2,
      this.#options.stream,
      this.key(notificationId),
      this.#options.group,
      streamId,
      this.#options.windowMs,
    );
  }

  /** Gives the lease up after a failed handler, so a redelivery may try again at once. */
  async release(notificationId: string, streamId: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.key(notificationId), `handling:${streamId}`);
  }
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Redis } from 'ioredis';
import type { StreamStats } from './pipeline.ts';

/**
 * Seconds since the oldest due, unpublished outbox row was written. Reads the head of the
 * partial index `idx_ctp_outbox_unpublished`, so it stays cheap however large the outbox grows.
 */
export async function outboxLagSeconds(em: EntityManager): Promise<number> {
  const [row] = await em.fork().execute<{ lag: string | number | null }[]>(
    `select extract(epoch from now() - created_at) as lag from ctp_outbox
      where published_at is null and available_at <= now()
      order by id limit 1`,
  );
  return row?.lag == null ? 0 : Math.max(0, Number(row.lag));
}

/** Inbox rows parked after their tries were spent. Counts `idx_ctp_webhook_inbox_parked` only. */
export async function parkedWebhookCount(em: EntityManager): Promise<number> {
  const [row] = await em
    .fork()
    .execute<{ n: string | number }[]>(
      'select count(*) as n from ctp_webhook_inbox where parked_at is not null',
    );
  return Number(row?.n ?? 0);
}

/** XLEN and XINFO GROUPS of the stream; a stream that does not exist yet is empty with no groups. */
export async function notificationStreamStats(redis: Redis, stream: string): Promise<StreamStats> {
  const [length, groups] = await Promise.all([
    redis.xlen(stream),
    redis.xinfo('GROUPS', stream).catch((error: unknown) => {
      if (error instanceof Error && /no such key/i.test(error.message)) return [];
      throw error;
    }),
  ]);
  return { length, groups: parseGroups(groups) };
}

/** XINFO GROUPS answers a list of flat field/value lists; `lag` is Redis 7+ and may be nil. */
export function parseGroups(reply: unknown): StreamStats['groups'] {
  if (!Array.isArray(reply)) return [];
  return reply.flatMap((entry: unknown) => {
    if (!Array.isArray(entry)) return [];
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    const name = fields.get('name');
    if (typeof name !== 'string' && !Buffer.isBuffer(name)) return [];
    const lag = fields.get('lag');
    return [
      {
        name: String(name),
        lag: lag === null || lag === undefined ? null : Number(lag),
        pending: Number(fields.get('pending') ?? 0),
      },
    ];
  });
}

/** What the queue sampler reads of a BullMQ queue (structural: core does not depend on BullMQ). */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

export const SAMPLED_JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;

export async function queueJobCounts(
  queues: readonly CountableQueue[],
): Promise<Record<string, Record<string, number>>> {
  const counts = await Promise.all(queues.map((queue) => queue.getJobCounts(...SAMPLED_JOB_STATES)));
  return Object.fromEntries(queues.map((queue, i) => [queue.name, counts[i] ?? {}]));
}

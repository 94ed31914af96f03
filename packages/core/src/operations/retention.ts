import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';

export interface RetentionOptions {
  /** Published outbox rows older than this (since published) are deleted. */
  readonly outboxRetentionMs: number;
  /** Processed inbox rows older than this (since processed) are deleted; parked ones are kept. */
  readonly inboxRetentionMs: number;
  /** Rows per delete statement: short statements, short locks, small WAL bursts. */
  readonly batchSize: number;
  /** Statements per table per run; the next run (a minute later) goes on where this one stopped. */
  readonly maxBatches: number;
}

/**
 * Outbox rows in id order (oldest first): the primary key serves the scan, and the first rows
 * past the cutoff end it. Unpublished rows are never deleted, whatever their age.
 */
const PRUNE_OUTBOX_SQL = `with deleted as (
      delete from ctp_outbox where id in (
        select id from ctp_outbox
         where published_at is not null and published_at < now() - ? * interval '1 millisecond'
         order by id limit ?)
      returning 1)
    select count(*)::int as n from deleted`;

/** Reads `idx_ctp_webhook_inbox_processed`. Unprocessed and parked rows are never deleted. */
const PRUNE_INBOX_SQL = `with deleted as (
      delete from ctp_webhook_inbox where webhook_id in (
        select webhook_id from ctp_webhook_inbox
         where processed_at is not null and processed_at < now() - ? * interval '1 millisecond'
         order by processed_at limit ?)
      returning 1)
    select count(*)::int as n from deleted`;

/**
 * Retention of the two append-only tables, run by a maintenance job: finished rows past their
 * age are deleted in small batches, each its own statement (autocommit), so a crash loses at
 * most one batch of work and the next run resumes. Returns the rows deleted per table.
 */
export async function pruneFinishedRows(
  em: EntityManager,
  options: RetentionOptions,
): Promise<{ outbox: number; inbox: number }> {
  const prune = async (sql: string, retentionMs: number) => {
    let deleted = 0;
    for (let batch = 0; batch < options.maxBatches; batch += 1) {
      const [row] = await em.fork().execute<{ n: number }[]>(sql, [retentionMs, options.batchSize]);
      const affected = Number(row?.n ?? 0);
      deleted += affected;
      if (affected < options.batchSize) break;
    }
    return deleted;
  };
  return {
    outbox: await prune(PRUNE_OUTBOX_SQL, options.outboxRetentionMs),
    inbox: await prune(PRUNE_INBOX_SQL, options.inboxRetentionMs),
  };
}

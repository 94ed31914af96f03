import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { pruneProcessedWebhooks } from './inbox-writes.ts';
import { prunePublishedOutboxRows } from './outbox.ts';

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
 * Retention of the two append-only tables, run by a maintenance job: finished rows past their
 * age are deleted in small batches (the tables' own modules), each its own statement (autocommit), so a crash loses at
 * most one batch of work and the next run resumes. Returns the rows deleted per table.
 */
export async function pruneFinishedRows(
  em: EntityManager,
  options: RetentionOptions,
): Promise<{ outbox: number; inbox: number }> {
  const prune = async (
    batch: (em: EntityManager, retentionMs: number, limit: number) => Promise<number>,
    retentionMs: number,
  ) => {
    let deleted = 0;
    for (let n = 0; n < options.maxBatches; n += 1) {
      const affected = await batch(em, retentionMs, options.batchSize);
      deleted += affected;
      if (affected < options.batchSize) break;
    }
    return deleted;
  };
  return {
    outbox: await prune(prunePublishedOutboxRows, options.outboxRetentionMs),
    inbox: await prune(pruneProcessedWebhooks, options.inboxRetentionMs),
  };
}

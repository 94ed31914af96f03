import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { maskPansIn } from '../cards/pan.ts';
import { webhookBodySchema } from '../contracts/saas.ts';
import { markWebhookProcessed } from './lifecycle-store.ts';
import { applyNetworkStatusChange } from './network-change.ts';
import { outcomeOf, resolveTraceOutcome } from './resolve-trace.ts';

/** The trace of a completed request is not stored yet: its webhook beat the `202`. Retry later. */
export class TraceNotYetKnown extends Error {
  override readonly name = 'TraceNotYetKnown';
}

export type WebhookProcessingResult = 'processed' | 'already-processed' | 'ignored' | 'parked';

/**
 * Handles one webhook delivery the api recorded in the inbox. A `request.completed` for a
 * trace we have not stored yet throws `TraceNotYetKnown` so the job retries with backoff; the
 * poller resolves the trace anyway once it is stored, whichever comes first.
 */
export async function processWebhook(em: EntityManager, webhookId: string): Promise<WebhookProcessingResult> {
  const [row] = await em.execute<{ payload: unknown; processed_at: Date | null; parked_at: Date | null }[]>(
    'select payload, processed_at, parked_at from ctp_webhook_inbox where webhook_id = ?',
    [webhookId],
  );
  if (row === undefined) return 'ignored';
  if (row.processed_at !== null) return 'already-processed';
  if (row.parked_at !== null) return 'parked';
  const parsed = webhookBodySchema.safeParse(row.payload);
  if (!parsed.success) {
    // The api validated it before recording; a row that no longer parses never will: parked at
    // once, for a human.
    await recordWebhookFailure(em, webhookId, 'payload does not match the contract', { park: true });
    return 'parked';
  }
  const body = parsed.data;
  if (body.type !== 'request.completed') {
    await applyNetworkStatusChange(em, body, webhookId);
    return 'processed';
  }
  const outcome = outcomeOf(body.data);
  if (outcome === null) {
    const done = markWebhookProcessed(webhookId);
    await em.execute(done.sql, [...done.params], 'run');
    return 'ignored';
  }
  const result = await resolveTraceOutcome(em, body.tenant, outcome, webhookId);
  if (result === 'trace-not-found')
    throw new TraceNotYetKnown(`trace ${outcome.requestTraceId} is not stored yet`);
  return 'processed';
}

/**
 * Counts one failed try at processing an inbox row and keeps its reason (masked: it may quote
 * SaaS text). At `maxAttempts` tries, or at once with `park`, the row is parked: out of the
 * sweeper's scan, listed on the dashboard and counted by `ctp_webhooks_parked`, never tried
 * again. Returns whether it is parked now. A row already processed or parked is left alone.
 */
export async function recordWebhookFailure(
  em: EntityManager,
  webhookId: string,
  reason: string,
  options: { maxAttempts?: number; park?: boolean },
): Promise<boolean> {
  const [row] = await em.fork().execute<{ parked: boolean }[]>(
    `update ctp_webhook_inbox
        set attempts = attempts + 1, last_error = ?,
            parked_at = case when ? or attempts + 1 >= ? then now() end
      where webhook_id = ? and processed_at is null and parked_at is null
      returning parked_at is not null as parked`,
    [maskPansIn(reason).slice(0, 2_000), options.park === true, options.maxAttempts ?? 1, webhookId],
  );
  return row?.parked === true;
}

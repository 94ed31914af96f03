import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { webhookBodySchema } from '../contracts/saas.ts';
import { CtpWebhookInbox } from '../entities/ctp-webhook-inbox.ts';
import { markWebhookProcessed } from './lifecycle-store.ts';
import { applyNetworkStatusChange } from './network-change.ts';
import { outcomeOf, resolveTraceOutcome } from './resolve-trace.ts';

/** The trace of a completed request is not stored yet: its webhook beat the `202`. Retry later. */
export class TraceNotYetKnown extends Error {
  override readonly name = 'TraceNotYetKnown';
}

export type WebhookProcessingResult = 'processed' | 'already-processed' | 'ignored';

/**
 * Handles one webhook delivery the api recorded in the inbox. A `request.completed` for a
 * trace we have not stored yet throws `TraceNotYetKnown` so the job retries with backoff; the
 * poller resolves the trace anyway once it is stored, whichever comes first.
 */
export async function processWebhook(em: EntityManager, webhookId: string): Promise<WebhookProcessingResult> {
  const [row] = await em.execute<{ payload: unknown; processed_at: Date | null }[]>(
    'select payload, processed_at from ctp_webhook_inbox where webhook_id = ?',
    [webhookId],
  );
  if (row === undefined) return 'ignored';
  if (row.processed_at !== null) return 'already-processed';
  const parsed = webhookBodySchema.safeParse(row.payload);
  if (!parsed.success) {
    // The api validated it before recording; a row that no longer parses is kept for a human.
    await em
      .fork()
      .nativeUpdate(CtpWebhookInbox, { webhookId }, { lastError: 'payload does not match the contract' });
    return 'ignored';
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

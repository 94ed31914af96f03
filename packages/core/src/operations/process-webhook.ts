import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { webhookBodySchema } from '../contracts/saas.ts';
import { markWebhookProcessed, recordWebhookFailure } from './inbox-writes.ts';
import { applyNetworkStatusChange } from './network-change.ts';
import { outcomeOf, resolveTraceOutcome } from './resolve-trace.ts';
import { sharedStatement } from './shared-transaction.ts';
import { defineStatement } from './sql-session.ts';

/** The trace of a completed request is not stored yet: its webhook beat the `202`. Retry later. */
export class TraceNotYetKnown extends Error {
  override readonly name = 'TraceNotYetKnown';
}

export type WebhookProcessingResult = 'processed' | 'already-processed' | 'ignored' | 'parked';

const readInboxRow = defineStatement<
  { webhook_id: string },
  { payload: unknown; processed_at: Date | null; parked_at: Date | null }
>(
  'ctp_read_inbox_row',
  'select payload, processed_at, parked_at from ctp_webhook_inbox where webhook_id = $webhook_id::text',
);

/**
 * Handles one webhook delivery the api recorded in the inbox. A `request.completed` for a
 * trace we have not stored yet throws `TraceNotYetKnown` so the job retries with backoff; the
 * poller resolves the trace anyway once it is stored, whichever comes first.
 */
export async function processWebhook(em: EntityManager, webhookId: string): Promise<WebhookProcessingResult> {
  const [row] = await sharedStatement(em, readInboxRow({ webhook_id: webhookId }));
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
    await markWebhookProcessed(em, webhookId);
    return 'ignored';
  }
  const result = await resolveTraceOutcome(em, body.tenant, outcome, webhookId);
  if (result === 'trace-not-found')
    throw new TraceNotYetKnown(`trace ${outcome.requestTraceId} is not stored yet`);
  return 'processed';
}

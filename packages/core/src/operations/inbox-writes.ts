import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import { maskPansIn } from '../cards/pan.ts';
import type { WebhookBody } from '../contracts/saas.ts';

/** Every write of `ctp_webhook_inbox` (step fragments: see `operation-writes.ts`). */

/** The inbox rows of `$webhooks_done` (a JSON array of ids) are done, once: a processed row is left as it is. */
export const MARK_WEBHOOKS_PROCESSED_CTE = `inbox_done as (
  update ctp_webhook_inbox set processed_at = now()
   where webhook_id = any(array(select jsonb_array_elements_text($webhooks_done::jsonb)))
     and processed_at is null and (select applied from ok))`;

/** The same, on its own (a webhook that asks for nothing). */
export async function markWebhookProcessed(em: EntityManager, webhookId: string): Promise<void> {
  await sql`update ctp_webhook_inbox set processed_at = now()
     where webhook_id = ${webhookId} and processed_at is null`.execute(em.getKysely());
}

/**
 * The delivery's inbox row, deduplicated by `webhook-id` (a redelivery inserts nothing, and the
 * statement's other CTEs select from `inbox`). `$processed`: `receiveWebhook` applies the
 * delivery in the same transaction and inserts the row processed (marking it in the step's
 * writes was an update of the row just inserted, and a second entry in the inbox's partial
 * indexes, on every completed request); `recordWebhook` leaves it for the webhook job.
 */
export const INSERT_WEBHOOK_CTE = `inbox as (
  insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, received_at, attempts, processed_at)
  values ($webhook_id::text, $tenant::text, $type::text, $payload::jsonb, now(), 0,
          case when $processed::boolean then now() end)
  on conflict (webhook_id) do nothing
  returning webhook_id)`;

/** The delivery body as the inbox stores it. */
export const inboxPayload = (body: WebhookBody): string => JSON.stringify(body);

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
  const { rows } = await sql<{ parked: boolean }>`update ctp_webhook_inbox
        set attempts = attempts + 1, last_error = ${maskPansIn(reason).slice(0, 2_000)},
            parked_at = case when ${options.park === true}::boolean or attempts + 1 >= ${options.maxAttempts ?? 1}::int
                             then now() end
      where webhook_id = ${webhookId} and processed_at is null and parked_at is null
      returning parked_at is not null as parked`.execute(em.fork().getKysely());
  return rows[0]?.parked === true;
}

/**
 * Retention: processed rows older than `retentionMs`, at most `limit` (reads
 * `idx_ctp_webhook_inbox_processed`). Unprocessed and parked rows are never deleted.
 */
export async function pruneProcessedWebhooks(
  em: EntityManager,
  retentionMs: number,
  limit: number,
): Promise<number> {
  const { rows } = await sql<{ n: number }>`with deleted as (
      delete from ctp_webhook_inbox where webhook_id in (
        select webhook_id from ctp_webhook_inbox
         where processed_at is not null and processed_at < now() - ${retentionMs}::bigint * interval '1 millisecond'
         order by processed_at limit ${limit}::int)
      returning 1)
    select count(*)::int as n from deleted`.execute(em.fork().getKysely());
  return Number(rows[0]?.n ?? 0);
}

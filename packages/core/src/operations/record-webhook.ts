import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { WebhookBody } from '../contracts/saas.ts';
import { OUTBOX_CHANNEL, outboxJobRow } from './outbox.ts';

/** `ctp_webhook_inbox.webhook_id` and `ctp_outbox.dedupe_key` are both varchar(255). */
const KEY_COLUMN_LENGTH = 255;

const jobKeyOf = (webhookId: string): string =>
  outboxJobRow('webhook', { tenant: '', key: webhookId, data: {} }).dedupeKey;

/** The longest id of plain characters (A-Z a-z 0-9 _ . -) whose job key still fits: 239. */
const PLAIN_ID_MAX = KEY_COLUMN_LENGTH - jobKeyOf('').length;

/**
 * Why a delivery's `webhook-id` cannot be recorded, or null if it can. The id is the inbox key
 * and, escaped for a job id and prefixed, the key of its job's outbox row: both must fit, or
 * the insert fails and the SaaS, answered 5xx, redelivers the same id for 27 hours.
 */
export function webhookIdProblem(webhookId: string): string | null {
  if (webhookId.length <= KEY_COLUMN_LENGTH && jobKeyOf(webhookId).length <= KEY_COLUMN_LENGTH) return null;
  return `is too long: at most ${PLAIN_ID_MAX} characters of A-Z a-z 0-9 _ . - (any other takes three)`;
}

/**
 * Takes a verified webhook delivery in durably: the inbox row (deduplicated by `webhook-id`:
 * a redelivery inserts nothing and asks for nothing) and the outbox row of the job that will
 * process it, in one statement (its own transaction), which also wakes the relay. The api
 * answers 2xx only after it committed. Returns false for a delivery already taken in.
 */
export async function recordWebhook(
  em: EntityManager,
  input: { webhookId: string; body: WebhookBody },
): Promise<boolean> {
  const job = outboxJobRow('webhook', {
    tenant: input.body.tenant,
    key: input.webhookId,
    data: { webhookId: input.webhookId, tenant: input.body.tenant },
  });
  const inserted = await em.execute<{ webhook_id: string }[]>(
    `with inbox as (
       insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, received_at, attempts)
       values (?, ?, ?, ?::jsonb, now(), 0)
       on conflict (webhook_id) do nothing
       returning webhook_id),
     job as (
       insert into ctp_outbox (tenant, kind, topic, operation_id, dedupe_key, payload, attempts, available_at, created_at)
       select ?, ?, ?, null, ?, ?::jsonb, 0, now(), now() from inbox)
     select webhook_id, pg_notify('${OUTBOX_CHANNEL}', '') from inbox`,
    [
      input.webhookId,
      input.body.tenant,
      input.body.type,
      JSON.stringify(input.body),
      job.tenant,
      job.kind,
      job.topic,
      job.dedupeKey,
      JSON.stringify(job.payload),
    ],
  );
  return inserted.length > 0;
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { WebhookBody } from '../contracts/saas.ts';
import { INSERT_WEBHOOK_CTE, inboxPayload } from './inbox-writes.ts';
import { OUTBOX_CHANNEL, outboxJobRow, outboxJson, WEBHOOK_JOB_CTE } from './outbox.ts';
import { sharedStatement } from './shared-transaction.ts';
import { defineStatement } from './sql-session.ts';

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

const recordWebhookStatement = defineStatement<
  { webhook_id: string; tenant: string; type: string; payload: string; job: string },
  { webhook_id: string }
>(
  'ctp_record_webhook',
  `with ${INSERT_WEBHOOK_CTE},
   ${WEBHOOK_JOB_CTE}
   select webhook_id, pg_notify('${OUTBOX_CHANNEL}', '') from inbox`,
);

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
  const inserted = await sharedStatement(
    em,
    recordWebhookStatement({
      webhook_id: input.webhookId,
      tenant: input.body.tenant,
      type: input.body.type,
      payload: inboxPayload(input.body),
      job: outboxJson([job]),
    }),
  );
  return inserted.length > 0;
}

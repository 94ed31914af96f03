import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { WebhookBody } from '../contracts/saas.ts';
import { INSERT_WEBHOOK_CTE, inboxPayload } from './inbox-writes.ts';
import { outboxJobRow, outboxJson, WEBHOOK_JOB_CTE } from './outbox.ts';
import { outcomeOf, readTraceUnderLock, resolveWrites } from './resolve-trace.ts';
import { sharedStatement, sharedTransaction } from './shared-transaction.ts';
import { defineStatement, type Statement } from './sql-session.ts';

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
  { webhook_id: string; tenant: string; type: string; payload: string; processed: false; job: string },
  { webhook_id: string }
>(
  'ctp_record_webhook',
  `with ${INSERT_WEBHOOK_CTE},
   ${WEBHOOK_JOB_CTE}
   select webhook_id from inbox`,
);

/** A delivery's inbox row and the outbox row of the job that will process it. */
function inboxAndJob(input: { webhookId: string; body: WebhookBody }): Statement<{ webhook_id: string }> {
  const job = outboxJobRow('webhook', {
    tenant: input.body.tenant,
    key: input.webhookId,
    data: { webhookId: input.webhookId, tenant: input.body.tenant },
  });
  return recordWebhookStatement(
    {
      webhook_id: input.webhookId,
      tenant: input.body.tenant,
      type: input.body.type,
      payload: inboxPayload(input.body),
      processed: false,
      job: outboxJson([job]),
    },
    { wakesRelay: true },
  );
}

/**
 * Takes a verified webhook delivery in durably: the inbox row (deduplicated by `webhook-id`:
 * a redelivery inserts nothing and asks for nothing) and the outbox row of the job that will
 * process it, in one statement; the relay is woken after the commit. The api answers 2xx only after it
 * committed. Returns false for a delivery already taken in.
 */
export async function recordWebhook(
  em: EntityManager,
  input: { webhookId: string; body: WebhookBody },
): Promise<boolean> {
  const inserted = await sharedStatement(em, inboxAndJob(input));
  return inserted.length > 0;
}

const inboxRowExists = defineStatement<{ webhook_id: string }, { one: number }>(
  'ctp_inbox_row_exists',
  'select 1 as one from ctp_webhook_inbox where webhook_id = $webhook_id::text',
);

const insertProcessedInboxRow = defineStatement<
  { webhook_id: string; tenant: string; type: string; payload: string; processed: true },
  { webhook_id: string }
>('ctp_insert_processed_inbox_row', `with ${INSERT_WEBHOOK_CTE} select webhook_id from inbox`);

/**
 * What receiving a delivery did: `resolved` (its trace's outcome applied in the same commit as
 * its inbox row), `recorded` (taken in for the webhook job), `duplicate` (taken in before).
 */
export type WebhookReceipt = 'resolved' | 'recorded' | 'duplicate';

/**
 * Takes a verified delivery in and, when it is a trace's outcome whose trace is stored, applies
 * it at once: the inbox row (inserted processed), and the resolve step's writes, in one transaction under
 * the entity's lock. This spares every completed request a job, a relay pass and a second
 * transaction. Any other delivery (a network status change, a trace not stored yet because the
 * webhook beat our record of the `202`) is recorded for the webhook job, as `recordWebhook`
 * does; so is nothing lost if the resolve cannot run here. A redelivery finds its inbox row
 * under the same lock and writes nothing.
 */
export async function receiveWebhook(
  em: EntityManager,
  input: { webhookId: string; body: WebhookBody },
): Promise<WebhookReceipt> {
  const { body, webhookId } = input;
  const outcome = body.type === 'request.completed' ? outcomeOf(body.data) : null;
  if (outcome === null) return (await recordWebhook(em, input)) ? 'recorded' : 'duplicate';
  return sharedTransaction(em, async (session) => {
    const {
      found,
      also: [seen],
    } = await readTraceUnderLock(session, body.tenant, outcome.requestTraceId, [
      inboxRowExists({ webhook_id: webhookId }),
    ]);
    if ((seen?.length ?? 0) > 0) return 'duplicate';
    if (found === null) {
      const [inserted] = await session.run([inboxAndJob(input)], { commit: true });
      return (inserted?.length ?? 0) > 0 ? 'recorded' : 'duplicate';
    }
    // The inbox row goes in processed: it commits with the resolve's writes or not at all. The
    // writes go first, so that a group's resolves are sent as one statement (`mergeSets` merges a
    // step's first statement of a round trip only).
    const { writes } = resolveWrites(found, body.tenant, outcome);
    const row = {
      webhook_id: webhookId,
      tenant: body.tenant,
      type: body.type,
      payload: inboxPayload(body),
      processed: true as const,
    };
    await session.run([...writes.statements(), insertProcessedInboxRow(row)], { commit: true });
    return 'resolved';
  });
}

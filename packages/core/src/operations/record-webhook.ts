import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { WebhookBody } from '../contracts/saas.ts';
import { addJobToOutbox, wakeRelay } from './outbox.ts';

/**
 * Takes a verified webhook delivery in durably: the inbox row (deduplicated by `webhook-id`:
 * a redelivery inserts nothing and asks for nothing) and the outbox row of the job that will
 * process it, in one transaction. The api answers 2xx only after this commits.
 * Returns false for a delivery already taken in.
 */
export async function recordWebhook(
  em: EntityManager,
  input: { webhookId: string; body: WebhookBody },
): Promise<boolean> {
  return em.fork().transactional(async (tx) => {
    const inserted = await tx.execute<{ webhook_id: string }[]>(
      `insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, received_at, attempts)
       values (?, ?, ?, ?::jsonb, now(), 0)
       on conflict (webhook_id) do nothing
       returning webhook_id`,
      [input.webhookId, input.body.tenant, input.body.type, JSON.stringify(input.body)],
    );
    if (inserted.length === 0) return false;
    addJobToOutbox(tx, 'webhook', {
      tenant: input.body.tenant,
      key: input.webhookId,
      data: { webhookId: input.webhookId, tenant: input.body.tenant },
    });
    await tx.flush();
    await wakeRelay(tx);
    return true;
  });
}

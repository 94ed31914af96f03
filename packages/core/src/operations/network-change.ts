import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { WebhookBody } from '../contracts/saas.ts';
import {
  applyConsumerNetworkChange,
  applyNetworkChange,
  type CtpSnapshot,
} from '../lifecycle/transitions.ts';
import { buildStatusChangedNotification } from '../notifications/payloads.ts';
import { snapshotOf } from './ctp-records.ts';
import { aggregateFrom, lockEntity, readAggregate, StepWrites } from './lifecycle-store.ts';
import { outboxNotificationRow } from './outbox.ts';
import { SqlSession } from './sql-session.ts';

type StatusChange = Extract<
  WebhookBody,
  { type: 'consumer.status_changed' | 'payment_instrument.status_changed' }
>;

export type NetworkChangeResult = 'applied' | 'unchanged' | 'stale' | 'unknown-record';

/**
 * Applies a status the network reports by itself (Visa disabled a card, removed a consumer).
 * The change and its `CTP_STATUS_CHANGED` notification commit together; the notification id
 * is the webhook id, so a redelivery cannot announce it twice. A change that does not match
 * what we hold (another consumer id, a record we never enrolled) is stale and changes nothing.
 */
export async function applyNetworkStatusChange(
  em: EntityManager,
  change: StatusChange,
  webhookId: string,
): Promise<NetworkChangeResult> {
  const { tenant } = change;
  const entityId = change.data.externalConsumerId;
  return SqlSession.transaction(em, async (session) => {
    const [, read] = await session.run([lockEntity(tenant, entityId), readAggregate(tenant, entityId)]);
    const writes = new StepWrites();
    writes.markWebhookProcessed(webhookId);
    const records = aggregateFrom(read);
    const customer = records?.customer;
    const result = decide();
    await session.run(writes.statements(), { commit: true });
    return result;

    function decide(): NetworkChangeResult {
      if (records === null || !customer) return 'unknown-record';
      if (
        change.type === 'consumer.status_changed' &&
        customer.clickToPayCustomerId !== change.data.clickToPayCustomerId
      ) {
        return 'unknown-record';
      }
      const current = snapshotOf(records);
      let next: CtpSnapshot;
      let kitNo: string | undefined;
      if (change.type === 'consumer.status_changed') {
        const result = applyConsumerNetworkChange(current, change.data.status);
        if (!result.ok) return 'stale';
        next = result.value;
      } else {
        kitNo = change.data.externalInstrumentId;
        const entry = records.kits.get(kitNo);
        if (entry?.payment?.clickToPayPaymentInstumentId !== change.data.clickToPayPaymentInstrumentId)
          return 'unknown-record';
        const result = applyNetworkChange(entry.payment.ctpKitStatus, change.data.status);
        if (!result.ok) return 'stale';
        next = { entity: current.entity, kits: { [kitNo]: result.value } };
      }
      const changed =
        next.entity !== current.entity || Object.entries(next.kits).some(([k, s]) => current.kits[k] !== s);
      if (!changed) return 'unchanged';
      writes.applySnapshot(records, next, {
        cause: `network: ${change.type} ${change.data.status}`.slice(0, 128),
      });
      const payment = kitNo === undefined ? undefined : records.kits.get(kitNo)?.payment;
      writes.outbox(
        outboxNotificationRow({
          tenant: change.tenant,
          notificationId: webhookId,
          payload: buildStatusChangedNotification({
            tenant: change.tenant,
            entityId: records.entity.entityId,
            kitNo: kitNo ?? null,
            ...(kitNo === undefined ? { ctpEntityStatus: next.entity } : {}),
            ...(kitNo === undefined ? {} : { ctpKitStatus: next.kits[kitNo] ?? 'UNREGISTERED' }),
            clickToPayCustomerId: customer.clickToPayCustomerId ?? null,
            clickToPayPaymentInstrumentId: payment?.clickToPayPaymentInstumentId ?? null,
            occurredAt: change.data.occurredAt,
          }),
        }),
      );
      return 'applied';
    }
  });
}

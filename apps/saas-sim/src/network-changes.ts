import type { WebhookBody } from '@ctp/core/contracts';
import type { NetworkStatus } from '@ctp/core/lifecycle';
import { SimError } from './errors.ts';
import type { ConsumerRecord, InstrumentRecord, Network } from './network.ts';

/**
 * The network changing a consumer or a card by itself (Visa disables a card, a consumer
 * leaves). A REMOVED record stays removed: only a new enrolment brings it back. Removing a
 * consumer removes its instruments with it, as the network does; one
 * `consumer.status_changed` message says so (the platform applies the same cascade).
 */

export interface NetworkChange {
  readonly changed: boolean;
  /** The message to send, when something changed. */
  readonly webhook: WebhookBody | undefined;
}

function consumerOf(network: Network, tenant: string, externalConsumerId: string): ConsumerRecord {
  if (!network.tenants.has(tenant)) throw new SimError('NOT_FOUND', 'unknown tenant');
  const record = network.consumer(tenant, externalConsumerId);
  if (record === undefined)
    throw new SimError('CONSUMER_NOT_FOUND', 'no consumer with this externalConsumerId');
  return record;
}

function refuseRevival(what: string, from: NetworkStatus, to: NetworkStatus): void {
  if (from === 'REMOVED' && to !== 'REMOVED') {
    throw new SimError('CONFLICT', `a REMOVED ${what} cannot become ${to}; enrol it again instead`);
  }
}

export function changeConsumerStatus(
  network: Network,
  tenant: string,
  externalConsumerId: string,
  status: NetworkStatus,
  occurredAt: Date,
): NetworkChange {
  const record = consumerOf(network, tenant, externalConsumerId);
  refuseRevival('consumer', record.status, status);
  if (record.status === status) return { changed: false, webhook: undefined };
  record.status = status;
  if (status === 'REMOVED')
    for (const instrument of record.instruments.values()) instrument.status = 'REMOVED';
  return {
    changed: true,
    webhook: {
      type: 'consumer.status_changed',
      tenant,
      data: {
        externalConsumerId,
        clickToPayCustomerId: record.clickToPayCustomerId,
        status,
        occurredAt: occurredAt.toISOString(),
      },
    },
  };
}

export function changeInstrumentStatus(
  network: Network,
  tenant: string,
  externalConsumerId: string,
  externalInstrumentId: string,
  status: NetworkStatus,
  occurredAt: Date,
): NetworkChange {
  const record = consumerOf(network, tenant, externalConsumerId);
  const instrument: InstrumentRecord | undefined = record.instruments.get(externalInstrumentId);
  if (instrument === undefined) {
    throw new SimError(
      'PAYMENT_INSTRUMENT_NOT_FOUND',
      'no payment instrument with this externalInstrumentId',
    );
  }
  refuseRevival('payment instrument', instrument.status, status);
  if (instrument.status === status) return { changed: false, webhook: undefined };
  instrument.status = status;
  return {
    changed: true,
    webhook: {
      type: 'payment_instrument.status_changed',
      tenant,
      data: {
        externalConsumerId,
        externalInstrumentId,
        clickToPayPaymentInstrumentId: instrument.clickToPayPaymentInstrumentId,
        status,
        occurredAt: occurredAt.toISOString(),
      },
    },
  };
}

import type { NetworkStatus } from '@ctp/core/lifecycle';
import type { Command } from './commands.ts';
import { SimError } from './errors.ts';
import type { ConsumerRecord, InstrumentRecord, Network } from './network.ts';

/**
 * When the network refuses a command, and what a command does when it succeeds.
 *
 * One rule for the two refusals: 404 when the ids do not resolve (unknown id, or a
 * `clickToPayCustomerId` / `clickToPayPaymentInstrumentId` that is not the one the network
 * gave for that external id); 409 CONFLICT when they resolve but the record's status forbids
 * the command (already enrolled, already removed, disabled where the command needs ACTIVE).
 * The statuses allowed follow the platform's own rules (`EVENT_RULES` in core), seen from the
 * network's side.
 *
 * The network's data rules (Visa's field lengths and refused characters, `ctp-saas.md` "Network
 * data rules (v2)") are not here: they are part of the wire schemas every body is parsed with
 * (`@ctp/core/contracts`, `network-rules.ts`, shared with the platform's edge and client), so a
 * body that breaks one is refused with 400 INVALID_REQUEST naming the field before any command.
 */

const ON_NETWORK: readonly NetworkStatus[] = ['ACTIVE', 'DISABLED'];
const ACTIVE_ONLY: readonly NetworkStatus[] = ['ACTIVE'];

function resolveConsumer(network: Network, tenant: string, id: string, customerId: string): ConsumerRecord {
  const record = network.consumer(tenant, id);
  if (record === undefined || record.clickToPayCustomerId !== customerId) {
    throw new SimError(
      'CONSUMER_NOT_FOUND',
      'no consumer with this externalConsumerId and clickToPayCustomerId',
    );
  }
  return record;
}

function resolveInstrument(
  consumer: ConsumerRecord,
  externalInstrumentId: string,
  clickToPayPaymentInstrumentId: string,
): InstrumentRecord {
  const instrument = consumer.instruments.get(externalInstrumentId);
  if (
    instrument === undefined ||
    instrument.clickToPayPaymentInstrumentId !== clickToPayPaymentInstrumentId
  ) {
    throw new SimError(
      'PAYMENT_INSTRUMENT_NOT_FOUND',
      'no payment instrument with this externalInstrumentId and clickToPayPaymentInstrumentId for this consumer',
    );
  }
  return instrument;
}

function requireStatus(what: string, status: NetworkStatus, allowed: readonly NetworkStatus[]): void {
  if (!allowed.includes(status)) {
    throw new SimError('CONFLICT', `the ${what} is ${status}; this request needs it ${allowed.join(' or ')}`);
  }
}

/** Throws the 404/409 the network answers for `command` in its current state. */
export function checkCommand(network: Network, tenant: string, command: Command): void {
  switch (command.event) {
    case 'CTP_REGISTER_ENTITY_AND_KIT': {
      const existing = network.consumer(tenant, command.externalConsumerId);
      if (existing !== undefined && existing.status !== 'REMOVED') {
        throw new SimError('CONFLICT', `the consumer is already enrolled (${existing.status})`);
      }
      return;
    }
    case 'CTP_ADD_KIT': {
      const consumer = resolveConsumer(
        network,
        tenant,
        command.externalConsumerId,
        command.clickToPayCustomerId,
      );
      requireStatus('consumer', consumer.status, ACTIVE_ONLY);
      const existing = consumer.instruments.get(command.instrument.externalInstrumentId);
      if (existing !== undefined && existing.status !== 'REMOVED') {
        throw new SimError('CONFLICT', `the payment instrument is already enrolled (${existing.status})`);
      }
      return;
    }
    case 'CTP_REMOVE_ENTITY': {
      const consumer = resolveConsumer(
        network,
        tenant,
        command.externalConsumerId,
        command.clickToPayCustomerId,
      );
      requireStatus('consumer', consumer.status, ON_NETWORK);
      return;
    }
    case 'CTP_REMOVE_KIT': {
      const consumer = resolveConsumer(
        network,
        tenant,
        command.externalConsumerId,
        command.clickToPayCustomerId,
      );
      requireStatus('consumer', consumer.status, ON_NETWORK);
      const instrument = resolveInstrument(
        consumer,
        command.externalInstrumentId,
        command.clickToPayPaymentInstrumentId,
      );
      requireStatus('payment instrument', instrument.status, ON_NETWORK);
      return;
    }
    case 'CTP_UPDATE_ENTITY': {
      const consumer = resolveConsumer(
        network,
        tenant,
        command.externalConsumerId,
        command.clickToPayCustomerId,
      );
      requireStatus('consumer', consumer.status, ACTIVE_ONLY);
      return;
    }
    case 'CTP_UPDATE_KIT': {
      const consumer = resolveConsumer(
        network,
        tenant,
        command.externalConsumerId,
        command.clickToPayCustomerId,
      );
      requireStatus('consumer', consumer.status, ON_NETWORK);
      const instrument = resolveInstrument(
        consumer,
        command.instrument.externalInstrumentId,
        command.clickToPayPaymentInstrumentId,
      );
      requireStatus('payment instrument', instrument.status, ACTIVE_ONLY);
      return;
    }
  }
}

/** The network ids a successful command yields, for the trace. */
export interface CommandOutcome {
  readonly clickToPayCustomerId: string;
  readonly clickToPayPaymentInstrumentId?: string;
}

/**
 * Carries out `command` on the model. Call only after `checkCommand` passed in the same
 * synchronous step, so nothing changed in between.
 */
export function applyCommand(
  network: Network,
  tenant: string,
  command: Command,
  newId: () => string,
): CommandOutcome {
  switch (command.event) {
    case 'CTP_REGISTER_ENTITY_AND_KIT': {
      // A re-registration after REMOVED is a new enrolment: fresh ids, no old instruments.
      const instrument: InstrumentRecord = {
        ...command.instrument,
        clickToPayPaymentInstrumentId: newId(),
        status: 'ACTIVE',
      };
      const record: ConsumerRecord = {
        externalConsumerId: command.externalConsumerId,
        clickToPayCustomerId: newId(),
        status: 'ACTIVE',
        consumer: command.consumer,
        instruments: new Map([[instrument.externalInstrumentId, instrument]]),
      };
      network.put(tenant, record);
      return {
        clickToPayCustomerId: record.clickToPayCustomerId,
        clickToPayPaymentInstrumentId: instrument.clickToPayPaymentInstrumentId,
      };
    }
    case 'CTP_ADD_KIT': {
      const consumer = mustFind(network, tenant, command.externalConsumerId);
      const instrument: InstrumentRecord = {
        ...command.instrument,
        clickToPayPaymentInstrumentId: newId(),
        status: 'ACTIVE',
      };
      consumer.instruments.set(instrument.externalInstrumentId, instrument);
      return {
        clickToPayCustomerId: consumer.clickToPayCustomerId,
        clickToPayPaymentInstrumentId: instrument.clickToPayPaymentInstrumentId,
      };
    }
    case 'CTP_REMOVE_ENTITY': {
      const consumer = mustFind(network, tenant, command.externalConsumerId);
      consumer.status = 'REMOVED';
      for (const instrument of consumer.instruments.values()) instrument.status = 'REMOVED';
      return { clickToPayCustomerId: consumer.clickToPayCustomerId };
    }
    case 'CTP_REMOVE_KIT': {
      const consumer = mustFind(network, tenant, command.externalConsumerId);
      const instrument = consumer.instruments.get(command.externalInstrumentId);
      if (instrument !== undefined) instrument.status = 'REMOVED';
      return {
        clickToPayCustomerId: consumer.clickToPayCustomerId,
        clickToPayPaymentInstrumentId: command.clickToPayPaymentInstrumentId,
      };
    }
    case 'CTP_UPDATE_ENTITY': {
      const consumer = mustFind(network, tenant, command.externalConsumerId);
      consumer.consumer = command.consumer;
      return { clickToPayCustomerId: consumer.clickToPayCustomerId };
    }
    case 'CTP_UPDATE_KIT': {
      const consumer = mustFind(network, tenant, command.externalConsumerId);
      const current = consumer.instruments.get(command.instrument.externalInstrumentId);
      if (current !== undefined) {
        consumer.instruments.set(current.externalInstrumentId, {
          ...command.instrument,
          clickToPayPaymentInstrumentId: current.clickToPayPaymentInstrumentId,
          status: current.status,
        });
      }
      return {
        clickToPayCustomerId: consumer.clickToPayCustomerId,
        clickToPayPaymentInstrumentId: command.clickToPayPaymentInstrumentId,
      };
    }
  }
}

function mustFind(network: Network, tenant: string, externalConsumerId: string): ConsumerRecord {
  const record = network.consumer(tenant, externalConsumerId);
  if (record === undefined) throw new Error('applyCommand called without a passing checkCommand');
  return record;
}

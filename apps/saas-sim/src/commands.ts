import { saasRequestSchemas } from '@ctp/core/contracts';
import type { CtpEvent } from '@ctp/core/lifecycle';
import { SimError } from './errors.ts';
import { type ConsumerData, consumerData, type InstrumentData, instrumentData } from './network.ts';
import { invalidRequest, pansOutsideTheirField, parseOrThrow } from './validation.ts';

/**
 * A validated operation request, as the network will carry it out. Parsing a body into a
 * command is the edge where the full PAN is dropped (`instrumentData`): the trace, the
 * scheduled completion and the model only ever hold commands.
 */
export type Command =
  | {
      readonly event: 'CTP_REGISTER_ENTITY_AND_KIT';
      readonly externalConsumerId: string;
      readonly consumer: ConsumerData;
      readonly instrument: InstrumentData;
    }
  | {
      readonly event: 'CTP_ADD_KIT';
      readonly externalConsumerId: string;
      readonly clickToPayCustomerId: string;
      readonly instrument: InstrumentData;
    }
  | {
      readonly event: 'CTP_REMOVE_ENTITY';
      readonly externalConsumerId: string;
      readonly clickToPayCustomerId: string;
    }
  | {
      readonly event: 'CTP_REMOVE_KIT';
      readonly externalConsumerId: string;
      readonly clickToPayCustomerId: string;
      readonly clickToPayPaymentInstrumentId: string;
      readonly externalInstrumentId: string;
    }
  | {
      readonly event: 'CTP_UPDATE_ENTITY';
      readonly externalConsumerId: string;
      readonly clickToPayCustomerId: string;
      readonly consumer: ConsumerData;
    }
  | {
      readonly event: 'CTP_UPDATE_KIT';
      readonly externalConsumerId: string;
      readonly clickToPayCustomerId: string;
      readonly clickToPayPaymentInstrumentId: string;
      readonly instrument: InstrumentData;
    };

/** Validates `body` against the event's core schema (400 with field details) and drops the PAN. */
export function parseCommand(event: CtpEvent, body: unknown): Command {
  const command = commandOf(event, body);
  const misplaced = pansOutsideTheirField(body, [PAN_FIELD]);
  if (misplaced.length > 0) throw invalidRequest('the request is invalid', misplaced);
  return command;
}

const PAN_FIELD = 'paymentInstrument.accountNumber';

function commandOf(event: CtpEvent, body: unknown): Command {
  switch (event) {
    case 'CTP_REGISTER_ENTITY_AND_KIT': {
      const r = parseOrThrow(saasRequestSchemas[event], body);
      return {
        event,
        externalConsumerId: r.consumer.externalConsumerId,
        consumer: consumerData(r.consumer),
        instrument: instrumentData(r.paymentInstrument),
      };
    }
    case 'CTP_ADD_KIT': {
      const r = parseOrThrow(saasRequestSchemas[event], body);
      return {
        event,
        externalConsumerId: r.externalConsumerId,
        clickToPayCustomerId: r.clickToPayCustomerId,
        instrument: instrumentData(r.paymentInstrument),
      };
    }
    case 'CTP_REMOVE_ENTITY': {
      const r = parseOrThrow(saasRequestSchemas[event], body);
      return {
        event,
        externalConsumerId: r.externalConsumerId,
        clickToPayCustomerId: r.clickToPayCustomerId,
      };
    }
    case 'CTP_REMOVE_KIT': {
      const r = parseOrThrow(saasRequestSchemas[event], body);
      return {
        event,
        externalConsumerId: r.externalConsumerId,
        clickToPayCustomerId: r.clickToPayCustomerId,
        clickToPayPaymentInstrumentId: r.clickToPayPaymentInstrumentId,
        externalInstrumentId: r.externalInstrumentId,
      };
    }
    case 'CTP_UPDATE_ENTITY': {
      const r = parseOrThrow(saasRequestSchemas[event], body);
      // The consumer object repeats its id; two different ids in one request is a malformed
      // request, not a lookup miss.
      if (r.consumer.externalConsumerId !== r.externalConsumerId) {
        throw new SimError('INVALID_REQUEST', 'the request is invalid', {
          details: [{ field: 'consumer.externalConsumerId', message: 'must equal externalConsumerId' }],
        });
      }
      return {
        event,
        externalConsumerId: r.externalConsumerId,
        clickToPayCustomerId: r.clickToPayCustomerId,
        consumer: consumerData(r.consumer),
      };
    }
    case 'CTP_UPDATE_KIT': {
      const r = parseOrThrow(saasRequestSchemas[event], body);
      return {
        event,
        externalConsumerId: r.externalConsumerId,
        clickToPayCustomerId: r.clickToPayCustomerId,
        clickToPayPaymentInstrumentId: r.clickToPayPaymentInstrumentId,
        instrument: instrumentData(r.paymentInstrument),
      };
    }
  }
}

/** The kit a command names, for the trace's `externalInstrumentId` (none for entity events). */
export function commandInstrumentId(command: Command): string | undefined {
  switch (command.event) {
    case 'CTP_REGISTER_ENTITY_AND_KIT':
    case 'CTP_ADD_KIT':
    case 'CTP_UPDATE_KIT':
      return command.instrument.externalInstrumentId;
    case 'CTP_REMOVE_KIT':
      return command.externalInstrumentId;
    case 'CTP_REMOVE_ENTITY':
    case 'CTP_UPDATE_ENTITY':
      return undefined;
  }
}

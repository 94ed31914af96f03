import type { CtpOperation } from '../entities/ctp-operation.ts';
import type { Kit } from '../entities/kit.ts';
import { consumerBody, paymentInstrumentBody } from '../saas/bodies.ts';
import type { SaasRequest } from '../saas/client.ts';
import type { CtpRecords } from './ctp-records.ts';

/** Why a request could not be built from our records; the operation fails permanently. */
export class UnbuildableRequest extends Error {
  override readonly name = 'UnbuildableRequest';
}

/**
 * The SaaS request of an operation, built from the records as they are now (so an update sends
 * the latest data). `decryptPan` is called only for events that send a card, just before the
 * call; the PAN lives in the returned body and nowhere else.
 */
export function buildSaasRequest(
  operation: CtpOperation,
  records: CtpRecords,
  decryptPan: (kit: Kit) => string,
): SaasRequest {
  const entity = records.entity;
  const kitEntry = operation.kitNumber == null ? undefined : records.kits.get(operation.kitNumber);
  const customerId = () => required(records.customer?.clickToPayCustomerId, 'clickToPayCustomerId');
  const kit = () => required(kitEntry?.kit, 'kit');
  const instrumentId = () =>
    required(kitEntry?.payment?.clickToPayPaymentInstumentId, 'clickToPayPaymentInstrumentId');
  const instrument = () => paymentInstrumentBody(kit(), decryptPan(kit()), entity.address);
  const reason = operation.reason == null ? {} : { reason: operation.reason };

  switch (operation.event) {
    case 'CTP_REGISTER_ENTITY_AND_KIT':
      return {
        event: operation.event,
        body: { consumer: consumerBody(entity), paymentInstrument: instrument() },
      };
    case 'CTP_ADD_KIT':
      return {
        event: operation.event,
        body: {
          externalConsumerId: entity.entityId,
          clickToPayCustomerId: customerId(),
          paymentInstrument: instrument(),
        },
      };
    case 'CTP_REMOVE_ENTITY':
      return {
        event: operation.event,
        body: { externalConsumerId: entity.entityId, clickToPayCustomerId: customerId(), ...reason },
      };
    case 'CTP_REMOVE_KIT':
      return {
        event: operation.event,
        body: {
          externalConsumerId: entity.entityId,
          clickToPayCustomerId: customerId(),
          clickToPayPaymentInstrumentId: instrumentId(),
          externalInstrumentId: kit().kitNo,
          ...reason,
        },
      };
    case 'CTP_UPDATE_ENTITY':
      return {
        event: operation.event,
        body: {
          externalConsumerId: entity.entityId,
          clickToPayCustomerId: customerId(),
          consumer: consumerBody(entity),
        },
      };
    case 'CTP_UPDATE_KIT':
      return {
        event: operation.event,
        body: {
          externalConsumerId: entity.entityId,
          clickToPayCustomerId: customerId(),
          clickToPayPaymentInstrumentId: instrumentId(),
          paymentInstrument: instrument(),
        },
      };
  }
}

function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined)
    throw new UnbuildableRequest(`the operation needs ${what}, which we do not hold`);
  return value;
}

import type { CtpOperation, FrozenSaasRequest } from '../entities/ctp-operation.ts';
import type { Kit } from '../entities/kit.ts';
import { consumerBody, type InstrumentSource, paymentInstrumentBody } from '../saas/bodies.ts';
import type { SaasRequest } from '../saas/client.ts';
import type { RecordsView } from './ctp-records.ts';

/** What decrypting a kit's PAN needs (the key id, and the tenant and kit number it is bound to). */
export type EncryptedPan = Pick<Kit, 'tenant' | 'kitNo' | 'panCiphertext' | 'panKeyId'>;

/** Why a request could not be built from our records; the operation fails permanently. */
export class UnbuildableRequest extends Error {
  override readonly name = 'UnbuildableRequest';
}

/**
 * The SaaS request of an operation, built from the records as they are now (so an update sends
 * the latest data). `decryptPan` is called only for events that send a card, just before the
 * call; the PAN lives in the returned body and nowhere else.
 */
export function buildSaasRequest<K extends InstrumentSource>(
  operation: Pick<CtpOperation, 'event' | 'kitNumber' | 'reason'>,
  records: RecordsView<K>,
  decryptPan: (kit: K) => string,
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

/** Stands for the PAN while a request is built to be frozen; never sent, never stored. */
const NO_PAN = '';

/**
 * The request of an operation as it starts, to be stored with it: built from the records now,
 * with the PAN left out. `null` when the records cannot make one (the submit step fails the
 * operation with the reason).
 */
export function freezeSaasRequest(
  operation: Pick<CtpOperation, 'event' | 'kitNumber' | 'reason'>,
  records: RecordsView,
): FrozenSaasRequest | null {
  try {
    const request = buildSaasRequest(operation, records, () => NO_PAN);
    const body: Record<string, unknown> = structuredClone(request.body);
    const instrument = body.paymentInstrument;
    if (instrument !== null && typeof instrument === 'object')
      delete (instrument as Record<string, unknown>).accountNumber;
    return { event: request.event, body };
  } catch (error) {
    if (error instanceof UnbuildableRequest) return null;
    throw error;
  }
}

/**
 * The frozen request with the card's PAN put back, decrypted just before the call. The body is
 * validated against the contract by the client before it is sent.
 */
export function thawSaasRequest(
  frozen: FrozenSaasRequest,
  kit: EncryptedPan | null,
  decryptPan: (kit: EncryptedPan) => string,
): SaasRequest {
  const body: Record<string, unknown> = structuredClone(frozen.body);
  const instrument = body.paymentInstrument;
  if (instrument !== null && typeof instrument === 'object') {
    if (kit === null) throw new UnbuildableRequest('the operation needs its kit, which no longer exists');
    (instrument as Record<string, unknown>).accountNumber = decryptPan(kit);
  }
  // Typed by its event once the client has validated it against that event's schema.
  return { event: frozen.event, body } as SaasRequest;
}

import { type DataAdjustment, fitBillingAddress } from '../contracts/network-rules.ts';
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
 * call; the PAN lives in the returned body and nowhere else. The billing address is sent as the
 * network's rules take it; what that changed is added to `adjustments`. An address that cannot
 * be made to fit (stored before the API's edge refused such addresses) makes the request
 * unbuildable, so its operation fails with the reason instead of being refused later.
 */
export function buildSaasRequest<K extends InstrumentSource>(
  operation: Pick<CtpOperation, 'event' | 'kitNumber' | 'reason'>,
  records: RecordsView<K>,
  decryptPan: (kit: K) => string,
  adjustments: DataAdjustment[] = [],
): SaasRequest {
  const entity = records.entity;
  const kitEntry = operation.kitNumber == null ? undefined : records.kits.get(operation.kitNumber);
  const customerId = () => required(records.customer?.clickToPayCustomerId, 'clickToPayCustomerId');
  const kit = () => required(kitEntry?.kit, 'kit');
  const instrumentId = () =>
    required(kitEntry?.payment?.clickToPayPaymentInstumentId, 'clickToPayPaymentInstrumentId');
  const instrument = () => {
    const fit = fitBillingAddress(entity.address);
    if (!fit.ok) {
      const problems = fit.problems.map(({ field, message }) => `address.${field} ${message}`);
      throw new UnbuildableRequest(
        `the address breaks the card network's data rules: ${problems.join('; ')}`,
      );
    }
    adjustments.push(...fit.adjustments);
    return paymentInstrumentBody(kit(), decryptPan(kit()), fit.address);
  };
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

/**
 * A copy of `body` with its payment instrument (when it has one) replaced by `change(instrument)`;
 * `body` itself is left as it was. Only the instrument differs between a frozen request and the
 * one sent, so only it is copied: the other members are shared, and nothing writes to them (the
 * client validates the body into new objects; the frozen one is stored as JSON). A deep copy
 * (`structuredClone`) cost 1 % of the worker's busy time in a profile of the bench.
 */
function withInstrument(
  body: Readonly<Record<string, unknown>>,
  change: (instrument: Readonly<Record<string, unknown>>) => Record<string, unknown>,
): Record<string, unknown> {
  const instrument = body.paymentInstrument;
  if (instrument === null || typeof instrument !== 'object') return { ...body };
  return { ...body, paymentInstrument: change(instrument as Record<string, unknown>) };
}

/** Stands for the PAN while a request is built to be frozen; never sent, never stored. */
const NO_PAN = '';

/**
 * The request of an operation as it starts, to be stored with it: built from the records now,
 * with the PAN left out, and what was changed in it to meet the network's data rules (stored
 * with the operation as its `data_adjustments`). `request` is `null` when the records cannot
 * make one (the submit step fails the operation with the reason).
 */
export function freezeSaasRequest(
  operation: Pick<CtpOperation, 'event' | 'kitNumber' | 'reason'>,
  records: RecordsView,
): { readonly request: FrozenSaasRequest | null; readonly adjustments: DataAdjustment[] } {
  const adjustments: DataAdjustment[] = [];
  try {
    const request = buildSaasRequest(operation, records, () => NO_PAN, adjustments);
    const body = withInstrument(request.body, ({ accountNumber: _, ...rest }) => rest);
    return { request: { event: request.event, body }, adjustments };
  } catch (error) {
    if (error instanceof UnbuildableRequest) return { request: null, adjustments: [] };
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
  const body = withInstrument(frozen.body, (instrument) => {
    if (kit === null) throw new UnbuildableRequest('the operation needs its kit, which no longer exists');
    return { ...instrument, accountNumber: decryptPan(kit) };
  });
  // Typed by its event once the client has validated it against that event's schema.
  return { event: frozen.event, body } as SaasRequest;
}

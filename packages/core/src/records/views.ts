import type { EntityAnswer, KitAnswer } from '../contracts/platform-api.ts';
import type { BusinessEntity } from '../entities/business-entity.ts';
import type { CtpCustomer } from '../entities/ctp-customer.ts';
import type { CtpPayment } from '../entities/ctp-payment.ts';
import type { Kit } from '../entities/kit.ts';

/**
 * Records as the API answers them. The PAN is never decrypted for an answer: the mask is built
 * from the stored first 6 and last 4, with a fixed-width middle since the length is not kept.
 */

export function maskedPan(kit: Pick<Kit, 'panFirst6' | 'panLast4'>): string {
  return `${kit.panFirst6}******${kit.panLast4}`;
}

export function kitView(entityId: string, kit: Kit, payment: CtpPayment | null): KitAnswer {
  return {
    entityId,
    kitNo: kit.kitNo,
    pan: maskedPan(kit),
    expiry: { month: String(kit.expiryMonth).padStart(2, '0'), year: String(kit.expiryYear) },
    nameOnCard: kit.nameOnCard,
    status: kit.status,
    ctpKitStatus: payment?.ctpKitStatus ?? 'UNREGISTERED',
    clickToPayPaymentInstrumentId: payment?.clickToPayPaymentInstumentId ?? null,
    createdAt: kit.createdAt.toISOString(),
    updatedAt: kit.updatedAt.toISOString(),
  };
}

export function entityView(
  entity: BusinessEntity,
  customer: CtpCustomer | null,
  kits: readonly { readonly kit: Kit; readonly payment: CtpPayment | null }[],
): EntityAnswer {
  return {
    entityId: entity.entityId,
    firstName: entity.firstName,
    lastName: entity.lastName,
    email: entity.email,
    phone: { countryCode: entity.phoneCountryCode, number: entity.phoneNumber },
    address: entity.address,
    locale: entity.locale,
    countryCode: entity.countryCode,
    consent: entity.consent ?? null,
    status: entity.status,
    ctpEntityStatus: customer?.ctpEntityStatus ?? 'UNREGISTERED',
    clickToPayCustomerId: customer?.clickToPayCustomerId ?? null,
    kits: kits.map(({ kit, payment }) => kitView(entity.entityId, kit, payment)),
    createdAt: entity.createdAt.toISOString(),
    updatedAt: entity.updatedAt.toISOString(),
  };
}

import type { z } from 'zod';
import type { BillingAddress } from '../contracts/network-rules.ts';
import type { consumerSchema, paymentInstrumentSchema } from '../contracts/saas.ts';
import type { BusinessEntity } from '../entities/business-entity.ts';
import type { Kit } from '../entities/kit.ts';

/**
 * SaaS request bodies built from our records. The PAN is a separate argument: it is decrypted
 * by the caller just before the call and lives only in this request body.
 */

export type ConsumerBody = z.infer<typeof consumerSchema>;
export type PaymentInstrumentBody = z.infer<typeof paymentInstrumentSchema>;

export type ConsumerSource = Pick<
  BusinessEntity,
  | 'entityId'
  | 'firstName'
  | 'lastName'
  | 'email'
  | 'phoneCountryCode'
  | 'phoneNumber'
  | 'locale'
  | 'countryCode'
  | 'consent'
>;

export type InstrumentSource = Pick<Kit, 'kitNo' | 'expiryMonth' | 'expiryYear' | 'nameOnCard'>;

export function consumerBody(entity: ConsumerSource): ConsumerBody {
  return {
    externalConsumerId: entity.entityId,
    firstName: entity.firstName,
    lastName: entity.lastName,
    emails: [entity.email],
    phones: [{ countryCode: entity.phoneCountryCode, number: entity.phoneNumber }],
    locale: entity.locale,
    countryCode: entity.countryCode,
    ...(entity.consent ? { consent: { ...entity.consent } } : {}),
  };
}

/**
 * `billingAddress` is the customer's address as the network takes it (`fitBillingAddress`:
 * wrapped, refused characters replaced), not the stored one.
 */
export function paymentInstrumentBody(
  kit: InstrumentSource,
  pan: string,
  billingAddress: BillingAddress,
): PaymentInstrumentBody {
  return {
    externalInstrumentId: kit.kitNo,
    accountNumber: pan,
    expirationDate: { month: String(kit.expiryMonth).padStart(2, '0'), year: String(kit.expiryYear) },
    nameOnCard: kit.nameOnCard,
    billingAddress: { ...billingAddress },
  };
}

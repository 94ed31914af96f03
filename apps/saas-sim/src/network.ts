import type {
  addressSchema,
  consumerSchema,
  expirationDateSchema,
  NetworkData,
  paymentInstrumentSchema,
} from '@ctp/core/contracts';
import type { NetworkStatus } from '@ctp/core/lifecycle';
import type { z } from 'zod';

/**
 * What the card network holds, per tenant: consumers by `externalConsumerId`, each with its
 * payment instruments by `externalInstrumentId`. A full PAN never enters this model: it is
 * validated at the edge and only its last four digits are kept.
 */

export type ConsumerData = Pick<
  z.infer<typeof consumerSchema>,
  'firstName' | 'lastName' | 'emails' | 'phones' | 'locale' | 'countryCode'
>;

export interface InstrumentData {
  readonly externalInstrumentId: string;
  readonly panLastFour: string;
  readonly expirationDate: z.infer<typeof expirationDateSchema>;
  readonly nameOnCard: string;
  readonly billingAddress: z.infer<typeof addressSchema>;
}

export interface InstrumentRecord extends InstrumentData {
  readonly clickToPayPaymentInstrumentId: string;
  status: NetworkStatus;
}

export interface ConsumerRecord {
  readonly externalConsumerId: string;
  readonly clickToPayCustomerId: string;
  status: NetworkStatus;
  consumer: ConsumerData;
  readonly instruments: Map<string, InstrumentRecord>;
}

export type TenantNetwork = Map<string, ConsumerRecord>;

export interface Network {
  readonly tenants: ReadonlyMap<string, TenantNetwork>;
  consumer(tenant: string, externalConsumerId: string): ConsumerRecord | undefined;
  put(tenant: string, record: ConsumerRecord): void;
  clear(): void;
}

export function createNetwork(tenantNames: readonly string[]): Network {
  const tenants = new Map<string, TenantNetwork>(tenantNames.map((t) => [t, new Map()]));
  return {
    tenants,
    consumer: (tenant, id) => tenants.get(tenant)?.get(id),
    put: (tenant, record) => void tenants.get(tenant)?.set(record.externalConsumerId, record),
    clear: () => {
      for (const consumers of tenants.values()) consumers.clear();
    },
  };
}

export function consumerData(consumer: z.infer<typeof consumerSchema>): ConsumerData {
  return {
    firstName: consumer.firstName,
    lastName: consumer.lastName,
    emails: [...consumer.emails],
    phones: consumer.phones.map((p) => ({ ...p })),
    locale: consumer.locale,
    countryCode: consumer.countryCode,
  };
}

/** The only place a PAN is read after validation: it leaves as its last four digits. */
export function instrumentData(instrument: z.infer<typeof paymentInstrumentSchema>): InstrumentData {
  return {
    externalInstrumentId: instrument.externalInstrumentId,
    panLastFour: instrument.accountNumber.slice(-4),
    expirationDate: { ...instrument.expirationDate },
    nameOnCard: instrument.nameOnCard,
    billingAddress: { ...instrument.billingAddress },
  };
}

/** `GET /getData`: exactly the contract's shape. */
export function networkDataView(record: ConsumerRecord): NetworkData {
  return {
    clickToPayCustomerId: record.clickToPayCustomerId,
    externalConsumerId: record.externalConsumerId,
    status: record.status,
    consumer: record.consumer,
    paymentInstruments: [...record.instruments.values()].map((i) => ({
      clickToPayPaymentInstrumentId: i.clickToPayPaymentInstrumentId,
      externalInstrumentId: i.externalInstrumentId,
      panLastFour: i.panLastFour,
      expirationDate: i.expirationDate,
      status: i.status,
    })),
  };
}

/** `GET /__sim/state`: everything the model keeps (which holds no PAN to begin with). */
export function adminConsumerView(record: ConsumerRecord) {
  return {
    externalConsumerId: record.externalConsumerId,
    clickToPayCustomerId: record.clickToPayCustomerId,
    status: record.status,
    consumer: record.consumer,
    paymentInstruments: [...record.instruments.values()].map((i) => ({ ...i })),
  };
}

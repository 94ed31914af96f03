/**
 * CTP events (seed: column `event`, Java enum) and the seed's event → SaaS endpoint map.
 */

export const CTP_EVENTS = [
  'CTP_REGISTER_ENTITY_AND_KIT',
  'CTP_ADD_KIT',
  'CTP_REMOVE_ENTITY',
  'CTP_REMOVE_KIT',
  'CTP_UPDATE_ENTITY',
  'CTP_UPDATE_KIT',
] as const;
export type CtpEvent = (typeof CTP_EVENTS)[number];

/** `transactionType` of notifications about network-driven status changes (platform contract). */
export const CTP_STATUS_CHANGED = 'CTP_STATUS_CHANGED' as const;
export type NotificationTransactionType = CtpEvent | typeof CTP_STATUS_CHANGED;

export type HttpMethod = 'GET' | 'POST' | 'PUT';

/** Seed, "SaaS API Endpoints": one endpoint per operation event. */
export const SAAS_ENDPOINT_BY_EVENT = {
  CTP_REGISTER_ENTITY_AND_KIT: { path: '/addCustomerAndPaymentInstrument', method: 'POST' },
  CTP_ADD_KIT: { path: '/addPaymentInstrument', method: 'POST' },
  CTP_REMOVE_ENTITY: { path: '/removeCustomer', method: 'POST' },
  CTP_REMOVE_KIT: { path: '/removePaymentInstrument', method: 'POST' },
  CTP_UPDATE_ENTITY: { path: '/updateCustomerData', method: 'PUT' },
  CTP_UPDATE_KIT: { path: '/updatePaymentInstrument', method: 'PUT' },
} as const satisfies Record<CtpEvent, { path: `/${string}`; method: HttpMethod }>;

/** The two read endpoints of the seed's table, which belong to no event. */
export const SAAS_READ_ENDPOINTS = {
  getData: { path: '/getData', method: 'GET' },
  status: { path: '/status', method: 'GET' },
} as const satisfies Record<string, { path: `/${string}`; method: HttpMethod }>;

/** Events that name a kit: the operation row, trace row and notification carry a kit number. */
export const KIT_EVENTS = [
  'CTP_REGISTER_ENTITY_AND_KIT',
  'CTP_ADD_KIT',
  'CTP_REMOVE_KIT',
  'CTP_UPDATE_KIT',
] as const satisfies readonly CtpEvent[];

export function eventNamesKit(event: CtpEvent): event is (typeof KIT_EVENTS)[number] {
  return (KIT_EVENTS as readonly CtpEvent[]).includes(event);
}

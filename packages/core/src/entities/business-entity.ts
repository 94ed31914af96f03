import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CUSTOMER_STATUSES } from '../lifecycle/statuses.ts';
import {
  bigintPrimaryKey,
  createdAtColumn,
  externalIdColumn,
  tenantColumn,
  updatedAtColumn,
  versionColumn,
} from './columns.ts';

export interface PostalAddress {
  line1: string;
  line2?: string;
  city: string;
  state?: string;
  postalCode: string;
  countryCode: string;
}

export interface Consent {
  accepted: boolean;
  version: string;
  /** ISO 8601 timestamp, as the client sent it. */
  acceptedAt: string;
}

/** The platform's customer, in the minimal form the CTP tables hang off (platform contract). */
export const BusinessEntity = defineEntity({
  name: 'BusinessEntity',
  tableName: 'business_entity',
  properties: {
    pkey: bigintPrimaryKey,
    tenant: tenantColumn,
    entityId: externalIdColumn,
    firstName: p.string(),
    lastName: p.string(),
    email: p.string(),
    phoneCountryCode: p.string().length(8),
    phoneNumber: p.string().length(32),
    address: p.json<PostalAddress>(),
    locale: p.string().length(35),
    countryCode: p.string().length(2),
    consent: p.json<Consent>().nullable(),
    /** The platform's customer status; changed only as `changeCustomerStatus` decides (`records/entities.ts`). */
    status: p.enum(CUSTOMER_STATUSES).default('ACTIVE'),
    version: versionColumn,
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
  },
  uniques: [{ name: 'uq_business_entity_tenant_entity_id', properties: ['tenant', 'entityId'] }],
});

export type BusinessEntity = InferEntity<typeof BusinessEntity>;

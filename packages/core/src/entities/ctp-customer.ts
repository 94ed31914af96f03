import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CTP_STATUSES } from '../lifecycle/statuses.ts';
import { BusinessEntity } from './business-entity.ts';
import {
  bigintPrimaryKey,
  createdAtColumn,
  externalIdColumn,
  tenantColumn,
  updatedAtColumn,
  versionColumn,
} from './columns.ts';

/** Seed table `ctp_customer`: the entity-level CTP enrollment. */
export const CtpCustomer = defineEntity({
  name: 'CtpCustomer',
  tableName: 'ctp_customer',
  properties: {
    pkey: bigintPrimaryKey,
    tenant: tenantColumn,
    entityId: externalIdColumn,
    /** Visa's consumer id; known only once the SaaS confirms the registration. */
    clickToPayCustomerId: p.string().fieldName('clickToPayCustomerId').nullable(),
    ctpEntityStatus: p.enum(CTP_STATUSES),
    businessEntity: p
      .oneToOne(BusinessEntity)
      .owner()
      .ref()
      .fieldName('business_entity_fkey')
      .unique('idx_ctp_customer_business_entity_fkey')
      .foreignKeyName('fk_ctp_customer_business_entity'),
    version: versionColumn,
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
  },
  uniques: [{ name: 'uq_ctp_customer_tenant_entity_id', properties: ['tenant', 'entityId'] }],
});

export type CtpCustomer = InferEntity<typeof CtpCustomer>;

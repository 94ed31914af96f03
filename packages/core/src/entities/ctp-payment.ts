import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CTP_STATUSES } from '../lifecycle/statuses.ts';
import {
  bigintPrimaryKey,
  createdAtColumn,
  tenantColumn,
  updatedAtColumn,
  versionColumn,
} from './columns.ts';
import { CtpCustomer } from './ctp-customer.ts';
import { Kit } from './kit.ts';

/** Seed table `ctp_payment`: the card-level CTP enrollment. */
export const CtpPayment = defineEntity({
  name: 'CtpPayment',
  tableName: 'ctp_payment',
  properties: {
    pkey: bigintPrimaryKey,
    tenant: tenantColumn,
    /** Visa's payment instrument id. "Instument" is the seed's spelling, kept on purpose. */
    clickToPayPaymentInstumentId: p.string().fieldName('clickToPayPaymentInstumentId').nullable(),
    ctpKitStatus: p.enum(CTP_STATUSES),
    ctpCustomer: p
      .manyToOne(CtpCustomer)
      .ref()
      .fieldName('ctcustomer_pkey')
      .index('idx_ctp_payment_ctcustomer_pkey')
      .foreignKeyName('fk_ctp_payment_ctp_customer'),
    kit: p
      .oneToOne(Kit)
      .owner()
      .ref()
      .fieldName('kit_pkey')
      .unique('idx_ctp_payment_kit')
      .foreignKeyName('fk_ctp_payment_kit'),
    version: versionColumn,
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
  },
});

export type CtpPayment = InferEntity<typeof CtpPayment>;

import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { CARD_STATUSES } from '../lifecycle/statuses.ts';
import { BusinessEntity } from './business-entity.ts';
import {
  bigintPrimaryKey,
  createdAtColumn,
  externalIdColumn,
  tenantColumn,
  updatedAtColumn,
  versionColumn,
} from './columns.ts';

/**
 * A card. The PAN is stored only encrypted; first 6 and last 4 are kept apart because the
 * masked display is all anything but the SaaS call ever needs.
 */
export const Kit = defineEntity({
  name: 'Kit',
  tableName: 'kit',
  properties: {
    pkey: bigintPrimaryKey,
    tenant: tenantColumn,
    kitNo: externalIdColumn,
    // PostgreSQL does not index referencing columns; the entity's kits are looked up by it.
    businessEntity: p
      .manyToOne(BusinessEntity)
      .ref()
      .fieldName('business_entity_fkey')
      .index('idx_kit_business_entity_fkey')
      .foreignKeyName('fk_kit_business_entity'),
    panCiphertext: p.text(),
    /** Which key encrypted `panCiphertext`, so keys can be rotated. */
    panKeyId: p.string().length(64),
    panFirst6: p.character().length(6),
    panLast4: p.character().length(4),
    expiryMonth: p.smallint(),
    expiryYear: p.smallint(),
    nameOnCard: p.string(),
    /** The platform's card status; changed only as `changeCardStatus` decides (`records/kits.ts`). */
    status: p.enum(CARD_STATUSES).default('ACTIVE'),
    version: versionColumn,
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
  },
  uniques: [{ name: 'uq_kit_tenant_kit_no', properties: ['tenant', 'kitNo'] }],
});

export type Kit = InferEntity<typeof Kit>;

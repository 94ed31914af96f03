import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { bigintPrimaryKey, createdAtColumn, tenantColumn } from './columns.ts';

/**
 * A client's API key, stored only as a hash (see `hashApiKey` in `auth/`); the key itself is
 * never written anywhere. Revoked keys keep their row so a revocation is not undone by a sync.
 */
export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_key',
  properties: {
    pkey: bigintPrimaryKey,
    tenant: tenantColumn,
    /** Hex SHA-256 of the key; the unique index is also the lookup path of every request. */
    keyHash: p.character().length(64).unique('uq_api_key_key_hash'),
    label: p.string().length(128).nullable(),
    createdAt: createdAtColumn,
    revokedAt: p.datetime().nullable(),
  },
});

export type ApiKey = InferEntity<typeof ApiKey>;

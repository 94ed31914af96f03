import { createHmac } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { ConfigError } from '../config/load.ts';
import type { ApiKeyEntry } from '../config/schema.ts';
import { ApiKey } from '../entities/api-key.ts';
import { defineStatement, SqlSession } from '../operations/sql-session.ts';

/**
 * API keys are stored as HMAC-SHA-256 under a server-side pepper (`API_KEY_PEPPER`), not as a
 * slow password hash: a key is a long random string, so there is no dictionary to brute-force,
 * and a deterministic hash is what lets every request find its key through a unique index in
 * one lookup (a slow or salted hash could not be looked up). The pepper lives in the
 * configuration, not the database: a stolen table alone can neither reveal nor verify a key.
 * Keys shorter than 16 characters are refused by the configuration schema.
 */
export function hashApiKey(key: string, pepper: string): string {
  return createHmac('sha256', pepper).update(key, 'utf8').digest('hex');
}

const CONFIGURED_LABEL = 'API_KEYS';

/** Longer bearer tokens are answered 401 without a database round trip. */
const MAX_KEY_LENGTH = 512;

/**
 * Makes the database hold every key of `API_KEYS` (idempotent; run at each api boot).
 * Configuration is authoritative for the tenant and label of the keys it lists; a revocation
 * stays in force (a revoked key must also be removed from the configuration, and a boot must not
 * silently bring it back). One `INSERT ... ON CONFLICT (key_hash) DO UPDATE` statement: several
 * api processes booting at once each run it, PostgreSQL serialises them on the unique index,
 * and rows are written in hash order so two of them never wait on each other crosswise.
 */
export async function syncConfiguredApiKeys(
  em: EntityManager,
  entries: readonly ApiKeyEntry[],
  pepper: string,
): Promise<{ readonly keys: number }> {
  const byHash = new Map<string, string>();
  for (const { tenant, key } of entries) {
    const keyHash = hashApiKey(key, pepper);
    const other = byHash.get(keyHash);
    if (other !== undefined && other !== tenant) {
      throw new ConfigError([
        { variable: 'API_KEYS', message: `one key is listed for two tenants (${other} and ${tenant})` },
      ]);
    }
    byHash.set(keyHash, tenant);
  }
  if (byHash.size === 0) return { keys: 0 };
  const rows = [...byHash]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([keyHash, tenant]) => ({ keyHash, tenant, label: CONFIGURED_LABEL }));
  await em.fork().upsertMany(ApiKey, rows, {
    onConflictFields: ['keyHash'],
    onConflictAction: 'merge',
    onConflictMergeFields: ['tenant', 'label'],
  });
  return { keys: rows.length };
}

/**
 * The tenant of a bearer token, or null when it is no live key. The token is hashed and looked
 * up by its hash, so no comparison ever runs over the secret itself: what a response time could
 * reveal is where a SHA-256 output sits in an index, which says nothing about any valid key.
 */
export async function authenticate(
  em: SqlEntityManager,
  bearerToken: string,
  pepper: string,
): Promise<string | null> {
  if (bearerToken.length === 0 || bearerToken.length > MAX_KEY_LENGTH) return null;
  const [row] = await SqlSession.runAlone(em, liveKeyTenant({ key_hash: hashApiKey(bearerToken, pepper) }));
  return row?.tenant ?? null;
}

/** On every request whose key is not cached: a fixed statement, the hash bound. */
const liveKeyTenant = defineStatement<{ key_hash: string }, { tenant: string }>(
  'ctp_live_api_key_tenant',
  'select tenant from api_key where key_hash = $key_hash::text and revoked_at is null',
);

export interface ApiKeyAuthenticator {
  authenticate(em: SqlEntityManager, bearerToken: string): Promise<string | null>;
  /** Forgets every cached answer (after a revocation in this process, in tests). */
  clear(): void;
}

export interface ApiKeyCacheOptions {
  /** `API_KEY_PEPPER`. */
  readonly pepper: string;
  /** How long a good key is trusted without asking the database: also a revocation's delay. */
  readonly ttlMs?: number;
  /** How long a bad key is remembered; short, so a key added by another process works soon. */
  readonly negativeTtlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * `authenticate` with a small in-process cache keyed by the key's hash (the cache never holds a
 * key). Bounded: when full, the oldest entry goes, so a flood of random tokens cannot grow it.
 */
export function createApiKeyAuthenticator({
  pepper,
  ttlMs = 30_000,
  negativeTtlMs = 5_000,
  maxEntries = 10_000,
  now = Date.now,
}: ApiKeyCacheOptions): ApiKeyAuthenticator {
  const cache = new Map<string, { readonly tenant: string | null; readonly expiresAt: number }>();

  return {
    async authenticate(em, bearerToken) {
      if (bearerToken.length === 0 || bearerToken.length > MAX_KEY_LENGTH) return null;
      const keyHash = hashApiKey(bearerToken, pepper);
      const cached = cache.get(keyHash);
      if (cached !== undefined && cached.expiresAt > now()) return cached.tenant;
      const tenant = await authenticate(em, bearerToken, pepper);
      cache.delete(keyHash);
      if (cache.size >= maxEntries) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      cache.set(keyHash, { tenant, expiresAt: now() + (tenant === null ? negativeTtlMs : ttlMs) });
      return tenant;
    },
    clear() {
      cache.clear();
    },
  };
}

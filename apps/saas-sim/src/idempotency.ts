import { createHmac, randomBytes } from 'node:crypto';
import type { AcceptedResponse } from '@ctp/core/contracts';
import type { Clock } from './clock.ts';

/**
 * The Idempotency-Key store: per tenant, the first accepted answer of each key, kept for the
 * TTL (24 h by the contract).
 *
 * Only accepted work is stored (a 202, also when the answer was then "lost"): a synchronous
 * refusal (400/404/409) started nothing, so a repeat is simply judged again, which is what
 * lets a caller retry a 409 "in progress" once the other operation has finished.
 *
 * Expiry is lazy on lookup plus a sweep; since every entry lives the same TTL, insertion order
 * is expiry order and the sweep stops at the first live entry. The number of entries is
 * bounded; past the bound the oldest are evicted early (and counted), so a flood cannot
 * exhaust memory.
 */

export interface StoredAnswer {
  readonly status: 202;
  readonly body: AcceptedResponse;
}

interface Entry {
  readonly fingerprint: string;
  readonly answer: StoredAnswer;
  readonly expiresAt: number;
}

export type Lookup =
  | { readonly kind: 'new' }
  | { readonly kind: 'replay'; readonly answer: StoredAnswer }
  | { readonly kind: 'reused' };

export interface IdempotencyStoreOptions {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly clock: Clock;
}

export function createIdempotencyStore({ ttlMs, maxEntries, clock }: IdempotencyStoreOptions) {
  const entries = new Map<string, Entry>();
  let evicted = 0;
  const id = (tenant: string, key: string) => `${tenant}\u0000${key}`;

  return {
    lookup(tenant: string, key: string, fingerprint: string): Lookup {
      const entry = entries.get(id(tenant, key));
      if (entry === undefined) return { kind: 'new' };
      if (entry.expiresAt <= clock.now()) {
        entries.delete(id(tenant, key));
        return { kind: 'new' };
      }
      return entry.fingerprint === fingerprint
        ? { kind: 'replay', answer: entry.answer }
        : { kind: 'reused' };
    },
    save(tenant: string, key: string, fingerprint: string, answer: StoredAnswer): void {
      entries.set(id(tenant, key), { fingerprint, answer, expiresAt: clock.now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
        evicted++;
      }
    },
    /** Drops expired entries; returns how many. */
    sweep(): number {
      const now = clock.now();
      let dropped = 0;
      for (const [key, entry] of entries) {
        if (entry.expiresAt > now) break;
        entries.delete(key);
        dropped++;
      }
      return dropped;
    },
    stats: () => ({ size: entries.size, evicted }),
    clear(): void {
      entries.clear();
      evicted = 0;
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;

/**
 * What "the same request" means: method, path and the body in canonical form (keys sorted),
 * so a resent body with its keys in another order is still the same request. The fingerprint
 * is an HMAC under a key that lives only in this process: the body holds a PAN, and a plain
 * hash of a PAN could be reversed by trying every card number of a BIN.
 */
export function createFingerprinter(key: Buffer = randomBytes(32)) {
  return (method: string, path: string, body: unknown): string =>
    createHmac('sha256', key)
      .update(`${method}\n${path}\n${canonicalJson(body)}`)
      .digest('base64url');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    const record = value as Record<string, unknown>;
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

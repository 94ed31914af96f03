import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import type { PanCipher } from '../cards/crypto.ts';
import { storeReencryptedPan } from './kits.ts';

export interface ReencryptionResult {
  readonly reencrypted: number;
  /** Kits whose ciphertext no key of the cipher opens (their key was dropped too early). */
  readonly unreadable: readonly string[];
}

/**
 * Key rotation: moves every PAN not yet under the cipher's current key onto it, in batches of
 * one transaction each (`FOR UPDATE SKIP LOCKED`: api and workers keep running, several runs in
 * parallel do not collide, and a run that dies is simply run again). The old key can be removed
 * from `PAN_ENCRYPTION_PREVIOUS_KEYS` once this reports nothing left.
 */
export async function reencryptPans(
  em: EntityManager,
  cipher: PanCipher,
  batchSize = 500,
): Promise<ReencryptionResult> {
  let reencrypted = 0;
  const unreadable: string[] = [];
  for (;;) {
    const moved = await em.fork().transactional(async (tx) => {
      const { rows } = await sql<{
        pkey: string;
        tenant: string;
        kit_no: string;
        pan_ciphertext: string;
        pan_key_id: string;
      }>`select pkey, tenant, kit_no, pan_ciphertext, pan_key_id from kit
          where pan_key_id <> ${cipher.currentKeyId} and not (pkey = any(${unreadable}::bigint[]))
          order by pkey limit ${batchSize}::int for update skip locked`.execute(tx.getKysely());
      for (const row of rows) {
        const binding = { tenant: row.tenant, kitNo: row.kit_no };
        let pan: string;
        try {
          pan = cipher.decrypt({ ciphertext: row.pan_ciphertext, keyId: row.pan_key_id }, binding);
        } catch {
          unreadable.push(row.pkey);
          continue;
        }
        const next = cipher.encrypt(pan, binding);
        await storeReencryptedPan(tx, row.pkey, next);
        reencrypted += 1;
      }
      return rows.length;
    });
    if (moved < batchSize) return { reencrypted, unreadable };
  }
}

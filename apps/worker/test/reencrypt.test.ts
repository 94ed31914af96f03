import { randomBytes } from 'node:crypto';
import { createPanCipher } from '@ctp/core/cards';
import { DEV_DEFAULTS } from '@ctp/core/config';
import { Kit } from '@ctp/core/entities';
import { reencryptPans } from '@ctp/core/records';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PANS, seedEntity } from './fixtures.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('PAN key rotation', () => {
  it('moves every card onto the new key in batches; each PAN decrypts to what it was', async () => {
    await seedEntity(db.orm, 'ENBDTABBY', 'rot-e', ['rot-1', 'rot-2', 'rot-3']);
    const rotated = createPanCipher({
      current: randomBytes(32).toString('base64'),
      previous: [DEV_DEFAULTS.PAN_ENCRYPTION_KEY],
    });
    const result = await reencryptPans(db.orm.em, rotated, 2);
    expect(result).toEqual({ reencrypted: 3, unreadable: [] });
    const kits = await db.orm.em
      .fork()
      .find(Kit, { kitNo: { $in: ['rot-1', 'rot-2', 'rot-3'] } }, { orderBy: { kitNo: 'asc' } });
    expect(kits.map((k) => k.panKeyId)).toEqual([
      rotated.currentKeyId,
      rotated.currentKeyId,
      rotated.currentKeyId,
    ]);
    const pans = kits.map((k) =>
      rotated.decrypt(
        { ciphertext: k.panCiphertext, keyId: k.panKeyId },
        { tenant: k.tenant, kitNo: k.kitNo },
      ),
    );
    expect(pans).toEqual([PANS[0], PANS[1], PANS[2]]);
    expect(await reencryptPans(db.orm.em, rotated)).toEqual({ reencrypted: 0, unreadable: [] });
  });

  it('reports the cards it cannot read instead of failing or looping', async () => {
    const stranger = createPanCipher({ current: randomBytes(32).toString('base64') });
    const result = await reencryptPans(db.orm.em, stranger, 2);
    expect(result.reencrypted).toBe(0);
    expect(result.unreadable).toHaveLength(3);
  });
});

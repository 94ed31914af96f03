import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPanCipher, decodePanKey, type EncryptedPan, PanDecryptionError, panKeyId } from './crypto.ts';

const PAN = '4111111111111111';
const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const ROW = { tenant: 'ENBDTABBY', kitNo: 'kit-1' };

function decryptionError(run: () => unknown): PanDecryptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof PanDecryptionError) return error;
    throw error;
  }
  throw new Error('expected a PanDecryptionError');
}

/** Flips one bit of the base64url segment `index` (1 key id, 2 iv, 3 body, 4 tag) of the text. */
function tamper({ ciphertext, keyId }: EncryptedPan, index: number): EncryptedPan {
  const parts = ciphertext.split('.');
  const bytes = Buffer.from(parts[index] ?? '', 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 1;
  parts[index] = bytes.toString('base64url');
  return { ciphertext: parts.join('.'), keyId };
}

describe('PAN cipher', () => {
  it('round-trips a PAN and records which key encrypted it', () => {
    const cipher = createPanCipher({ current: KEY_A });
    const encrypted = cipher.encrypt(PAN, ROW);
    expect(encrypted.keyId).toBe(panKeyId(decodePanKey(KEY_A)));
    expect(encrypted.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(encrypted.ciphertext).toMatch(/^v1\.[0-9a-f]{16}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(cipher.decrypt(encrypted, ROW)).toBe(PAN);
  });

  it('never writes the PAN, nor a fixed encoding of it, into the ciphertext', () => {
    const cipher = createPanCipher({ current: KEY_A });
    const first = cipher.encrypt(PAN, ROW);
    const second = cipher.encrypt(PAN, ROW);
    for (const { ciphertext } of [first, second]) {
      expect(ciphertext).not.toContain(PAN);
      expect(ciphertext).not.toContain(PAN.slice(-4));
      expect(ciphertext).not.toContain(Buffer.from(PAN).toString('base64url').slice(0, 12));
    }
    // A fresh IV each time: equal cards are not recognisable as equal at rest.
    expect(first.ciphertext).not.toBe(second.ciphertext);
  });

  it('refuses a ciphertext moved to another row or tenant', () => {
    const cipher = createPanCipher({ current: KEY_A });
    const encrypted = cipher.encrypt(PAN, ROW);
    expect(() => cipher.decrypt(encrypted, { ...ROW, kitNo: 'kit-2' })).toThrow(PanDecryptionError);
    expect(() => cipher.decrypt(encrypted, { ...ROW, tenant: 'DEMOBANK' })).toThrow(PanDecryptionError);
  });

  it('refuses a wrong or unknown key', () => {
    const encrypted = createPanCipher({ current: KEY_A }).encrypt(PAN, ROW);
    const other = createPanCipher({ current: KEY_B });
    expect(decryptionError(() => other.decrypt(encrypted, ROW)).message).toMatch(/no such key/);
    // Same key id claimed, different key material (a misconfigured rotation): GCM catches it.
    const forged = {
      ...encrypted,
      ciphertext: encrypted.ciphertext.replace(encrypted.keyId, other.currentKeyId),
    };
    expect(() => other.decrypt({ ...forged, keyId: other.currentKeyId }, ROW)).toThrow(PanDecryptionError);
  });

  it('refuses tampered text, IV or tag, and a key id column that disagrees with the text', () => {
    const cipher = createPanCipher({ current: KEY_A, previous: [KEY_B] });
    const encrypted = cipher.encrypt(PAN, ROW);
    for (const index of [2, 3, 4]) {
      const error = decryptionError(() => cipher.decrypt(tamper(encrypted, index), ROW));
      expect(error.message).not.toContain(PAN);
    }
    const otherId = panKeyId(decodePanKey(KEY_B));
    expect(() => cipher.decrypt({ ...encrypted, keyId: otherId }, ROW)).toThrow(/disagree/);
    expect(() => cipher.decrypt({ ciphertext: 'v0.x.y.z.w', keyId: encrypted.keyId }, ROW)).toThrow(/format/);
    expect(() => cipher.decrypt({ ...encrypted, ciphertext: `${encrypted.ciphertext}.x` }, ROW)).toThrow(
      PanDecryptionError,
    );
  });

  it('decrypts under an old key after a rotation and encrypts under the new one', () => {
    const before = createPanCipher({ current: KEY_A });
    const old = before.encrypt(PAN, ROW);
    const after = createPanCipher({ current: KEY_B, previous: [KEY_A] });
    expect(after.decrypt(old, ROW)).toBe(PAN);
    expect(after.encrypt(PAN, ROW).keyId).toBe(after.currentKeyId);
    expect(after.currentKeyId).not.toBe(old.keyId);
    expect(after.keyIds).toEqual([after.currentKeyId, old.keyId]);
  });

  it('rejects keys that are not 32 bytes of base64', () => {
    expect(() => createPanCipher({ current: Buffer.alloc(16).toString('base64') })).toThrow(/32 bytes/);
    expect(() => createPanCipher({ current: `${KEY_A.slice(0, -4)}!!!!` })).toThrow(/32 bytes/);
  });
});

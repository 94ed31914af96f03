import { createPanCipher } from '@ctp/core/cards';
import { DEV_DEFAULTS } from '@ctp/core/config';
import { BusinessEntity, Kit } from '@ctp/core/entities';
import { requestOperation } from '@ctp/core/operations';
import type { Orm } from '@ctp/db';

export const cipher = createPanCipher({ current: DEV_DEFAULTS.PAN_ENCRYPTION_KEY });

/** Luhn-valid test PANs (Visa test ranges). */
export const PANS = ['4111111111111111', '4012888888881881', '4222222222222', '4000056655665556'] as const;

/** A customer with cards, written straight to the platform tables (the api's records routes do the same). */
export async function seedEntity(
  orm: Orm,
  tenant: string,
  entityId: string,
  kitNos: readonly string[],
): Promise<void> {
  const em = orm.em.fork();
  const entity = em.create(BusinessEntity, {
    tenant,
    entityId,
    firstName: 'Aisha',
    lastName: 'Khan',
    email: 'aisha@example.com',
    phoneCountryCode: '971',
    phoneNumber: '501234567',
    address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
    locale: 'en_AE',
    countryCode: 'AE',
    consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' },
  });
  kitNos.forEach((kitNo, i) => {
    const pan = PANS[i % PANS.length] ?? PANS[0];
    const encrypted = cipher.encrypt(pan, { tenant, kitNo });
    em.create(Kit, {
      tenant,
      kitNo,
      businessEntity: entity,
      panCiphertext: encrypted.ciphertext,
      panKeyId: encrypted.keyId,
      panFirst6: pan.slice(0, 6),
      panLast4: pan.slice(-4),
      expiryMonth: 12,
      expiryYear: 2029,
      nameOnCard: 'AISHA KHAN',
    });
  });
  await em.flush();
}

/** A customer with one card (`<entityId>-k`) and its registration accepted: a `QUEUED` operation. */
export async function queuedRegistration(orm: Orm, tenant: string, entityId: string): Promise<string> {
  await seedEntity(orm, tenant, entityId, [`${entityId}-k`]);
  const { operation } = await requestOperation(orm.em, {
    tenant,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId,
    kitNo: `${entityId}-k`,
  });
  return operation.id;
}

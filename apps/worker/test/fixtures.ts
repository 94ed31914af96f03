import { createPanCipher } from '@ctp/core/cards';
import { DEV_DEFAULTS } from '@ctp/core/config';
import { BusinessEntity, Kit } from '@ctp/core/entities';
import { requestOperation } from '@ctp/core/operations';
import type { Orm } from '@ctp/db';
import type { RunningSimulator } from '../../saas-sim/src/testing.ts';

export const cipher = createPanCipher({ current: DEV_DEFAULTS.PAN_ENCRYPTION_KEY });

/** The submit step's `decryptPan`, with the tests' cipher. */
export const decryptPan = (kit: { tenant: string; kitNo: string; panCiphertext: string; panKeyId: string }) =>
  cipher.decrypt(
    { ciphertext: kit.panCiphertext, keyId: kit.panKeyId },
    { tenant: kit.tenant, kitNo: kit.kitNo },
  );

/** Every request the simulator has answered so far, whatever its endpoint and status. */
export const requestsAtSaas = (sim: RunningSimulator) =>
  Object.values(sim.simulator.state().counters.requests).reduce(
    (sum, byStatus) => sum + Object.values(byStatus).reduce((a, b) => a + b, 0),
    0,
  );

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

/**
 * `entities` customers of one tenant with a card each, the first `enrolled` of them on CTP
 * (customer and payment `ACTIVE`), written in four set statements: the plan tests' tables.
 */
export async function seedCardsInBulk(
  client: { query: (text: string, values?: unknown[]) => Promise<unknown> },
  { entities, enrolled }: { entities: number; enrolled: number },
): Promise<void> {
  await client.query(
    `insert into business_entity (tenant, entity_id, first_name, last_name, email, phone_country_code,
            phone_number, address, locale, country_code)
     select 'ENBDTABBY', 'e' || g, 'A', 'B', 'a@example.com', '971', '501234567', '{}'::jsonb, 'en_AE', 'AE'
       from generate_series(1, $1::int) g`,
    [entities],
  );
  await client.query(
    `insert into kit (tenant, kit_no, pan_ciphertext, pan_key_id, pan_first6, pan_last4, expiry_month, expiry_year,
            name_on_card, business_entity_fkey)
     select tenant, entity_id || 'k', 'x', 'k1', '411111', '1111', 12, 2030, 'A B', pkey from business_entity`,
  );
  await client.query(
    `insert into ctp_customer (tenant, entity_id, ctp_entity_status, business_entity_fkey)
     select tenant, entity_id, 'ACTIVE', pkey from business_entity where pkey <= $1::int`,
    [enrolled],
  );
  await client.query(
    `insert into ctp_payment (tenant, ctp_kit_status, ctcustomer_pkey, kit_pkey)
     select c.tenant, 'ACTIVE', c.pkey, k.pkey from ctp_customer c join kit k on k.business_entity_fkey = c.business_entity_fkey`,
  );
}

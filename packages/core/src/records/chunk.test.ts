import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPanCipher } from '../cards/crypto.ts';
import type { EntityBody, KitBody } from '../contracts/platform-api.ts';
import { type CarriedRecords, planChunk } from './chunk.ts';

// What a batch chunk writes in bulk and what it leaves to putEntity/putKit, one record at a time.

const TENANT = 'T1';
const oldKey = randomBytes(32).toString('base64');
const cipher = createPanCipher({ current: randomBytes(32).toString('base64'), previous: [oldKey] });
const oldCipher = createPanCipher({ current: oldKey });

const ADDRESS = { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' };
const customer = (email = 'a@example.com'): EntityBody => ({
  firstName: 'Aisha',
  lastName: 'Khan',
  email,
  phone: { countryCode: '971', number: '501234567' },
  address: ADDRESS,
  locale: 'en_AE',
  countryCode: 'AE',
});
const card = (nameOnCard = 'AISHA KHAN', pan = '4111111111111111'): KitBody => ({
  pan,
  expiry: { month: '12', year: '2030' },
  nameOnCard,
});

/** A customer as the chunk's read returns it. */
const storedEntity = (pkey: string, entityId: string, body = customer()) => ({
  pkey,
  entityId,
  firstName: body.firstName,
  lastName: body.lastName,
  email: body.email,
  phoneCountryCode: body.phone.countryCode,
  phoneNumber: body.phone.number,
  address: ADDRESS,
  locale: body.locale,
  countryCode: body.countryCode,
  consent: null,
});

/** A card as the chunk's read returns it, encrypted under `under`. */
const storedKit = (kitNo: string, entityPkey: string, body = card(), under = cipher) => {
  const { ciphertext, keyId } = under.encrypt(body.pan, { tenant: TENANT, kitNo });
  return {
    kitNo,
    entityPkey,
    panCiphertext: ciphertext,
    panKeyId: keyId,
    expiryMonth: Number(body.expiry.month),
    expiryYear: Number(body.expiry.year),
    nameOnCard: body.nameOnCard,
  };
};

const item = (entityId: string, kitNo: string, records: Partial<CarriedRecords> = {}): CarriedRecords => ({
  entityId,
  kitNo,
  ...records,
});

describe('a chunk of carried records', () => {
  it('creates what is new, skips what is unchanged, sends an entity with a change one by one', () => {
    const plan = planChunk(
      cipher,
      TENANT,
      [
        [
          item('new', 'new-k', { customer: customer(), card: card() }),
          item('new', 'new-k2', { card: card() }),
        ],
        [
          item('same', 'same-k', { customer: customer(), card: card() }),
          item('same', 'same-k3', { card: card() }),
        ],
        [item('changed', 'changed-k', { customer: customer('b@example.com') })],
        [item('renamed', 'renamed-k', { card: card('A KHAN') })],
      ],
      {
        entities: [storedEntity('1', 'same'), storedEntity('2', 'changed'), storedEntity('3', 'renamed')],
        kits: [storedKit('same-k', '1'), storedKit('renamed-k', '3')],
      },
    );
    expect(plan.newEntities).toEqual([{ group: 0, entityId: 'new', body: customer() }]);
    expect(plan.newKits.map(({ group, kitNo }) => [group, kitNo])).toEqual([
      [0, 'new-k'],
      [0, 'new-k2'],
      [1, 'same-k3'],
    ]);
    expect([...plan.oneByOne]).toEqual([2, 3]);
  });

  it('sends one by one what putEntity/putKit judge: another entity’s card, an unknown entity, a card on an old key', () => {
    const plan = planChunk(
      cipher,
      TENANT,
      [
        [item('thief', 'owned-k', { customer: customer(), card: card() })],
        [item('ghost', 'ghost-k', { card: card() })],
        [item('old', 'old-k', { card: card() })],
      ],
      {
        entities: [storedEntity('1', 'owner'), storedEntity('3', 'old')],
        kits: [storedKit('owned-k', '1'), storedKit('old-k', '3', card(), oldCipher)],
      },
    );
    expect(plan.newEntities).toEqual([]);
    expect(plan.newKits).toEqual([]);
    expect([...plan.oneByOne]).toEqual([0, 1, 2]);
  });

  it('sends one by one a record carried twice with other values, and a new kitNo carried by two entities', () => {
    const plan = planChunk(
      cipher,
      TENANT,
      [
        [
          item('twice', 'twice-k', { customer: customer() }),
          item('twice', 'twice-k', { customer: customer('b@x.io') }),
        ],
        [
          item('card-twice', 'ct-k', { customer: customer(), card: card() }),
          item('card-twice', 'ct-k', { card: card('B') }),
        ],
        [
          item('same-twice', 'st-k', { customer: customer(), card: card() }),
          item('same-twice', 'st-k', { card: card() }),
        ],
        [item('first', 'shared-k', { customer: customer(), card: card() })],
        [item('second', 'shared-k', { customer: customer(), card: card() })],
      ],
      { entities: [], kits: [] },
    );
    expect(plan.newEntities.map(({ entityId }) => entityId)).toEqual(['same-twice']);
    expect(plan.newKits.map(({ kitNo }) => kitNo)).toEqual(['st-k']);
    expect([...plan.oneByOne]).toEqual([0, 1, 3, 4]);
  });
});

import type { Random } from './random.ts';

/** The platform records the load works on: the same entity and kit ids in both tenants, on purpose. */
export interface Customer {
  readonly entityId: string;
  readonly kitNos: readonly string[];
}

export function customers(count: number, random: Random): Customer[] {
  return Array.from({ length: count }, (_, i) => {
    const entityId = `chaos-e${String(i).padStart(3, '0')}`;
    const kits = 2 + random.int(2);
    return { entityId, kitNos: Array.from({ length: kits }, (_, k) => `${entityId}-k${k}`) };
  });
}

const FIRST = ['Aisha', 'Omar', 'Fatima', 'Yusuf', 'Layla', 'Karim', 'Noor', 'Sami'];
const LAST = ['Khan', 'Haddad', 'Rahman', 'Saleh', 'Nasser', 'Farouk'];
const STREETS = ['Marina Walk', 'Sheikh Zayed Rd', 'Al Wasl Rd', 'Jumeirah St', 'Corniche Rd'];
const CITIES = ['Dubai', 'Abu Dhabi', 'Sharjah'];

export function address(random: Random) {
  return {
    line1: `${1 + random.int(200)} ${random.pick(STREETS)}`,
    city: random.pick(CITIES),
    postalCode: '00000',
    countryCode: 'AE',
  };
}

export function entityBody(entityId: string, random: Random) {
  return {
    firstName: random.pick(FIRST),
    lastName: random.pick(LAST),
    email: `${entityId}@example.com`,
    phone: { countryCode: '971', number: `50${String(1_000_000 + random.int(8_999_999))}` },
    address: address(random),
    locale: 'en_AE',
    countryCode: 'AE',
    consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' },
  };
}

/** A Luhn-valid 16-digit Visa-range number: the kind of string that must never reach a log. */
export function pan(random: Random): string {
  const body = `4${Array.from({ length: 14 }, () => random.int(10)).join('')}`;
  return `${body}${luhnCheckDigit(body)}`;
}

function luhnCheckDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function kitBody(random: Random) {
  return {
    pan: pan(random),
    expiry: { month: String(1 + random.int(12)).padStart(2, '0'), year: String(2030 + random.int(5)) },
    nameOnCard: `${random.pick(FIRST)} ${random.pick(LAST)}`.toUpperCase(),
  };
}

import { describe, expect, it } from 'vitest';
import { entityPathSchema, isExpired, kitBodySchema } from './platform-api.ts';

describe('platform API schemas', () => {
  it('hold a card valid to the end of its expiry month', () => {
    const now = new Date('2027-03-31T23:59:59Z');
    expect(isExpired({ month: '03', year: '2027' }, now)).toBe(false);
    expect(isExpired({ month: '02', year: '2027' }, now)).toBe(true);
    expect(isExpired({ month: '12', year: '2026' }, now)).toBe(true);
    expect(isExpired({ month: '01', year: '2028' }, now)).toBe(false);
  });

  it('take ids of 1 to 64 characters of [A-Za-z0-9._-], never only dots', () => {
    const ok = (entityId: string) => entityPathSchema.safeParse({ entityId }).success;
    for (const id of ['a', '70752df2-5f0c-4b7e', 'kit.v1_2', 'x'.repeat(64), '.hidden', 'a..b'])
      expect(ok(id)).toBe(true);
    for (const id of ['', '.', '..', '...', 'x'.repeat(65), 'a b', 'a/b', 'café', 'a%20b'])
      expect(ok(id)).toBe(false);
  });

  it('give a malformed PAN one problem, a well-formed non-Luhn one another', () => {
    const problems = (pan: string) =>
      kitBodySchema
        .safeParse({ pan, expiry: { month: '12', year: '2099' }, nameOnCard: 'A' })
        .error?.issues.map((i) => i.message);
    expect(problems('4111111111111111')).toBeUndefined();
    expect(problems('4111 1111 1111 1111')).toEqual(['must be 13 to 19 digits']);
    expect(problems('4111111111111112')).toEqual(['must pass the Luhn check']);
  });
});

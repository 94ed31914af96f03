import { describe, expect, it } from 'vitest';
import { billingAddressSchema, cleanAddressText, fitBillingAddress, NETWORK_RULES } from './network-rules.ts';

const base = { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' };
/** A line of `words` words of 9 letters: 10 characters a word with its space. */
const words = (count: number, letter = 'a') =>
  Array.from({ length: count }, (_, i) => `${letter.repeat(8)}${i % 10}`).join(' ');

describe('fitBillingAddress', () => {
  it('sends an address that meets the rules as it is, with no adjustment', () => {
    const fit = fitBillingAddress({ ...base, line2: 'Tower 2', state: 'DU' });
    expect(fit).toEqual({ ok: true, address: { ...base, line2: 'Tower 2', state: 'DU' }, adjustments: [] });
  });

  it('wraps a long line1 at word boundaries, moving line2 down, and says so', () => {
    const line1 = words(10); // 99 characters
    const fit = fitBillingAddress({ ...base, line1, line2: 'Tower 2' });
    if (!fit.ok) throw new Error(JSON.stringify(fit.problems));
    expect(fit.address).toMatchObject({ line1: words(6), line2: words(10).slice(60), line3: 'Tower 2' });
    expect([fit.address.line1, fit.address.line2, fit.address.line3].join(' ')).toBe(`${line1} Tower 2`);
    for (const line of [fit.address.line1, fit.address.line2, fit.address.line3])
      expect(line?.length).toBeLessThanOrEqual(NETWORK_RULES.addressLineMax);
    expect(fit.adjustments).toEqual([
      {
        field: 'address.line1',
        message: expect.stringContaining('billingAddress.line1, billingAddress.line2'),
      },
      { field: 'address.line2', message: expect.stringContaining('sent as billingAddress.line3') },
    ]);
    expect(billingAddressSchema.safeParse(fit.address).success).toBe(true);
  });

  it('replaces the characters the network refuses, keeping brackets, quotes and "and"', () => {
    const fit = fitBillingAddress({
      ...base,
      line1: 'Villa #12 [East] "Al Noor" & Sons; gate: 3',
      city: 'Dubai!',
      state: '<DU>',
    });
    if (!fit.ok) throw new Error(JSON.stringify(fit.problems));
    expect(fit.address).toMatchObject({
      line1: "Villa 12 (East) 'Al Noor' + Sons, gate 3",
      city: 'Dubai',
      state: 'DU',
    });
    expect(fit.adjustments.map((a) => a.field)).toEqual(['address.line1', 'address.city', 'address.state']);
    expect(billingAddressSchema.safeParse(fit.address).success).toBe(true);
  });

  it('refuses, naming the field, what cannot be sent without changing its meaning', () => {
    const problems = (address: Partial<typeof base> & { line2?: string }) => {
      const fit = fitBillingAddress({ ...base, ...address });
      return fit.ok ? [] : fit.problems.map((p) => p.field);
    };
    expect(problems({ city: 'c'.repeat(NETWORK_RULES.cityMax + 1) })).toEqual(['city']);
    expect(problems({ city: 'c'.repeat(NETWORK_RULES.cityMax) })).toEqual([]);
    expect(problems({ postalCode: '1234567890' })).toEqual(['postalCode']);
    expect(problems({ line1: words(20) })).toEqual(['line1']); // 4 lines
    expect(problems({ line1: words(12), line2: words(7, 'b') })).toEqual(['line2']); // 2 + 2 lines
    expect(problems({ line1: words(12), line2: words(6, 'b') })).toEqual([]); // 2 + 1 lines
    expect(problems({ line1: `Unit 5 ${'x'.repeat(65)}` })).toEqual(['line1']);
    expect(problems({ city: '###' })).toEqual(['city']);
    expect(problems({ line2: '@@@' })).toEqual([]);
  });
});

describe('cleanAddressText', () => {
  it('leaves clean text alone and names every replaced character once', () => {
    expect(cleanAddressText("O'Brien St, 4/B")).toEqual({ text: "O'Brien St, 4/B", replaced: [] });
    expect(cleanAddressText('a ** b = `c` \u201dd\u201d')).toEqual({
      text: "a b c 'd'",
      replaced: ['*', '=', '`', '\u201d'],
    });
  });
});

describe('the wire schema', () => {
  it('refuses what Visa refuses, naming the field', () => {
    const fields = (address: Record<string, unknown>) =>
      billingAddressSchema.safeParse({ ...base, ...address }).error?.issues.map((i) => i.path.join('.')) ??
      [];
    expect(fields({ line1: 'x'.repeat(65), line3: 'y'.repeat(65) })).toEqual(['line1', 'line3']);
    expect(fields({ city: 'c'.repeat(33), postalCode: '1234567890' })).toEqual(['city', 'postalCode']);
    expect(fields({ line2: 'a@b', state: 'x#' })).toEqual(['line2', 'state']);
  });
});

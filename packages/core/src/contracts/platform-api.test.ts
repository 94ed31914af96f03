import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLIENT_TEXT_MESSAGES, clientText } from './client-text.ts';
import { entityBodySchema, entityPathSchema, isExpired, kitBodySchema } from './platform-api.ts';

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

describe('clientText', () => {
  const messages = (schema: z.ZodType, value: string) =>
    schema.safeParse(value).error?.issues.map((i) => i.message) ?? [];

  it('refuses NUL, lone surrogates and card numbers, each with one message that does not echo the value', () => {
    const text = clientText({ max: 100 });
    expect(messages(text, 'Ai\u0000sha')).toEqual([CLIENT_TEXT_MESSAGES.nul]);
    expect(messages(text, 'Ai\ud800sha')).toEqual([CLIENT_TEXT_MESSAGES.surrogate]);
    expect(messages(text, 'Ai\udc00')).toEqual([CLIENT_TEXT_MESSAGES.surrogate]);
    expect(messages(text, 'pay 4111 1111 1111 1111')).toEqual([CLIENT_TEXT_MESSAGES.card]);
    expect(messages(text, 'Ai\u{1F600}sha 1795566515239')).toEqual([]);
  });

  it('trims, and judges lengths on the trimmed text; identifiers are not trimmed', () => {
    expect(clientText({ max: 3 }).parse('  abc  ')).toBe('abc');
    expect(messages(clientText({ max: 3 }), '   ')).toHaveLength(1);
    expect(clientText({ max: 3, trim: false }).safeParse(' abc').success).toBe(false);
  });

  it('adds its rules to a string format', () => {
    const email = clientText({ max: 254 }, z.email());
    expect(messages(email, '4111111111111111@example.com')).toEqual([CLIENT_TEXT_MESSAGES.card]);
    expect(email.safeParse('aisha@example.com').success).toBe(true);
  });

  it('is in every string field of the entity body', () => {
    const body = {
      firstName: 'A',
      lastName: 'B',
      email: 'a@example.com',
      phone: { countryCode: '971', number: '501234567' },
      address: { line1: 'L', line2: 'M', city: 'C', state: 'S', postalCode: 'P', countryCode: 'AE' },
      locale: 'en_AE',
      countryCode: 'AE',
      consent: { accepted: true, version: 'v1', acceptedAt: '2026-01-02T03:04:05Z' },
    };
    expect(entityBodySchema.safeParse(body).success).toBe(true);
    const paths: string[][] = [];
    const walk = (node: unknown, path: string[]) => {
      if (typeof node === 'string') paths.push(path);
      else if (node !== null && typeof node === 'object')
        for (const [key, value] of Object.entries(node)) walk(value, [...path, key]);
    };
    walk(body, []);
    for (const path of paths) {
      const hostile = structuredClone(body) as Record<string, unknown>;
      let node = hostile;
      for (const part of path.slice(0, -1)) node = node[part] as Record<string, unknown>;
      node[path.at(-1) as string] = `${String(node[path.at(-1) as string])}\u0000`;
      const issues = entityBodySchema.safeParse(hostile).error?.issues ?? [];
      expect(
        issues.map((i) => i.path.join('.')),
        path.join('.'),
      ).toContain(path.join('.'));
    }
  });
});

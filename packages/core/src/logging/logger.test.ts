import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findPans, isLuhnValid } from '../cards/pan.ts';
import { createLogger } from './logger.ts';

const PAN = '4111111111111111';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'trace',
    destination: { write: (l: string) => void lines.push(l) },
  });
  return { logger, lines, text: () => lines.join('') };
}

/** A Luhn-valid card number of 13 to 19 digits. */
/** A card number of any network (first digit 2–6; 13 digits only for Visa), Luhn-valid. */
const panArb = fc
  .tuple(
    fc.integer({ min: 12, max: 18 }),
    fc.integer({ min: 2, max: 6 }),
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 17, maxLength: 17 }),
  )
  .map(([len, first, digits]) => {
    const body = `${len === 12 ? 4 : first}${digits.slice(0, len - 1).join('')}`;
    for (let check = 0; check < 10; check++) if (isLuhnValid(`${body}${check}`)) return `${body}${check}`;
    throw new Error('unreachable');
  });

describe('logger', () => {
  it('never prints a PAN given anywhere in a logged object, message or error', () => {
    fc.assert(
      fc.property(
        panArb,
        fc.array(fc.constantFrom('a', 'b', 'payload', 'data', 'items', '0'), { maxLength: 5 }),
        (pan, path) => {
          const { logger, text } = capture();
          let nested: unknown = { note: `card ${pan} seen` };
          for (const key of path) nested = key === '0' ? [nested] : { [key]: nested };
          logger.info({ ctx: nested, accountNumber: pan }, `processing ${pan}`);
          logger.error({ err: new Error(`SaaS rejected ${pan}`) }, 'failed');
          logger.warn(
            `grouped ${pan.slice(0, 4)} ${pan.slice(4, 8)} ${pan.slice(8, 12)} ${pan.slice(12)} spaced`,
          );
          logger.warn(`dashed ${pan.slice(0, 4)}-${pan.slice(4, 8)}-${pan.slice(8, 12)}-${pan.slice(12)}`);
          expect(findPans(text())).toEqual([]);
          expect(text()).not.toContain(pan);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('redacts secrets by key at any depth and bearer tokens inside text', () => {
    const { logger, text } = capture();
    logger.info(
      {
        headers: { Authorization: 'Bearer sk_live_abcdef', 'x-api-key': 'k-123' },
        config: { CTP_WEBHOOK_SECRET: 'whsec_c2VjcmV0', PAN_ENCRYPTION_KEY: 'a2V5', password: 'p' },
        cvv: '123',
      },
      'sent with Authorization: Bearer sk_live_abcdef',
    );
    const out = text();
    for (const secret of ['sk_live_abcdef', 'k-123', 'c2VjcmV0', 'a2V5', '"123"'])
      expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
  });

  it('keeps the ids that travel (operation id, tenant) and masks the PAN to first 6 and last 4', () => {
    const { logger, lines } = capture();
    logger.child({ tenant: 'ENBDTABBY', operationId: 'op-1' }).info({ kit: PAN }, 'kit');
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({
      tenant: 'ENBDTABBY',
      operationId: 'op-1',
      kit: '411111******1111',
      service: 'test',
    });
  });

  it('leaves stream ids alone, though their digits may pass the Luhn check', () => {
    const { logger, text } = capture();
    // Every sequence number after one timestamp: some of the joined digit runs are Luhn-valid.
    const ids = Array.from({ length: 10 }, (_, seq) => `1795566515239-${seq}`);
    expect(ids.some((id) => isLuhnValid(id.replace('-', '')))).toBe(true);
    logger.info({ ids }, `read ${ids.join(' ')}`);
    for (const id of ids) expect(text()).toContain(`"${id}"`);
    expect(text()).toContain(`read ${ids.join(' ')}`);
  });

  it('keeps every line valid JSON: numbers with many digits, and a PAN given as a number', () => {
    const { logger, lines } = capture();
    logger.info({ durationMs: 59.2474469999997, pan2: 4111111111111111, list: [4111111111111111] }, 'timing');
    const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(line).toMatchObject({
      durationMs: 59.2474469999997,
      pan2: '411111******1111',
      list: ['411111******1111'],
    });
  });

  it('survives cycles and odd values', () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = { big: 10n };
    cyclic.self = cyclic;
    logger.info({ cyclic }, 'ok');
    expect(lines).toHaveLength(1);
  });
});

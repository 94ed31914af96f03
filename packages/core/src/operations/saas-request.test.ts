import { describe, expect, it } from 'vitest';
import { saasRequestSchemas } from '../contracts/saas.ts';
import type { RecordsView } from './ctp-records.ts';
import { freezeSaasRequest, thawSaasRequest } from './saas-request.ts';

// The request an operation freezes carries the customer's address as the network takes it, and
// the operation keeps what that changed; an address stored before the edge refused such data
// makes no request at all (the operation then fails with the reason, before calling the SaaS).

function records(address: RecordsView['entity']['address']): RecordsView {
  return {
    entity: {
      tenant: 'T',
      entityId: 'e-1',
      firstName: 'Aisha',
      lastName: 'Khan',
      email: 'aisha@example.com',
      phoneCountryCode: '971',
      phoneNumber: '501234567',
      locale: 'en_AE',
      countryCode: 'AE',
      consent: null,
      address,
    },
    customer: null,
    kits: new Map([
      [
        'k-1',
        { kit: { kitNo: 'k-1', expiryMonth: 12, expiryYear: 2030, nameOnCard: 'AISHA KHAN' }, payment: null },
      ],
    ]),
  };
}

const register = { event: 'CTP_REGISTER_ENTITY_AND_KIT', kitNumber: 'k-1', reason: null } as const;

describe('freezeSaasRequest', () => {
  it('freezes the cleaned address, valid on the wire once the PAN is put back, with its adjustments', () => {
    const frozen = freezeSaasRequest(
      register,
      records({
        line1: `Villa #7 ${'Boulevard '.repeat(7).trim()}`,
        city: 'Dubai',
        postalCode: '1',
        countryCode: 'AE',
      }),
    );
    const instrument = frozen.request?.body.paymentInstrument as Record<string, unknown>;
    expect(instrument.billingAddress).toEqual({
      line1: `Villa 7 ${'Boulevard '.repeat(5).trim()}`,
      line2: 'Boulevard Boulevard',
      city: 'Dubai',
      postalCode: '1',
      countryCode: 'AE',
    });
    expect(frozen.adjustments.map((a) => a.field)).toEqual(['address.line1', 'address.line1']);
    const sent = {
      ...frozen.request?.body,
      paymentInstrument: { ...instrument, accountNumber: '4111111111111111' },
    };
    expect(saasRequestSchemas.CTP_REGISTER_ENTITY_AND_KIT.safeParse(sent).success).toBe(true);
  });

  it('makes no request of an address the network cannot take, so the operation fails with the reason', () => {
    const frozen = freezeSaasRequest(
      register,
      records({ line1: '1 Road', city: 'C'.repeat(40), postalCode: '1', countryCode: 'AE' }),
    );
    expect(frozen).toEqual({ request: null, adjustments: [] });
  });
});

describe('thawSaasRequest', () => {
  const address = { line1: '1 Road', city: 'Dubai', postalCode: '1', countryCode: 'AE' };
  const kit = { panCiphertext: 'x' } as unknown as Parameters<typeof thawSaasRequest>[1];

  it('puts the PAN into a copy: the frozen body never holds it, before or after', () => {
    const { request } = freezeSaasRequest(register, records(address));
    if (request === null) throw new Error('no request');
    const stored = JSON.stringify(request.body);
    expect(stored).not.toContain('accountNumber');
    const sent = thawSaasRequest(request, kit, () => '4111111111111111');
    expect(
      (sent.body as { paymentInstrument: Record<string, unknown> }).paymentInstrument.accountNumber,
    ).toBe('4111111111111111');
    expect(JSON.stringify(request.body)).toBe(stored);
    expect(saasRequestSchemas.CTP_REGISTER_ENTITY_AND_KIT.safeParse(sent.body).success).toBe(true);
  });

  it('refuses a request whose kit is gone', () => {
    const { request } = freezeSaasRequest(register, records(address));
    if (request === null) throw new Error('no request');
    expect(() => thawSaasRequest(request, null, () => '4111111111111111')).toThrow(/kit/);
  });
});

import { describe, expect, it } from 'vitest';
import { applyFaultsPatch, NO_FAULTS, parseFaultsJson } from './faults.ts';

describe('fault settings', () => {
  it('are all off by default', () => {
    expect(parseFaultsJson('{}')).toEqual(NO_FAULTS);
    expect(Object.entries(NO_FAULTS).filter(([k, v]) => k.endsWith('Rate') && v !== 0)).toEqual([]);
  });

  it('parse SAAS_SIM_FAULTS and name the bad knob', () => {
    expect(parseFaultsJson('{"rate5xx":0.1,"latencyMs":{"min":5,"max":20}}')).toMatchObject({
      rate5xx: 0.1,
      latencyMs: { min: 5, max: 20 },
    });
    expect(() => parseFaultsJson('{"rate5xx":3}')).toThrow(/SAAS_SIM_FAULTS is invalid: rate5xx/);
    expect(() => parseFaultsJson('{"typo":1}')).toThrow(/SAAS_SIM_FAULTS is invalid/);
    expect(() => parseFaultsJson('rate5xx=1')).toThrow(/must be a JSON object/);
  });

  it('patch only the knobs given', () => {
    const current = { ...NO_FAULTS, rate429: 0.5 };
    const result = applyFaultsPatch(current, { rejectionRate: 1 });
    expect(result.success && result.data).toEqual({ ...current, rejectionRate: 1 });
  });
});

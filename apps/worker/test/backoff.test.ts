import { TraceNotYetKnown } from '@ctp/core/operations';
import { SaasError } from '@ctp/core/saas';
import { describe, expect, it } from 'vitest';
import { retryDelay } from '../src/backoff.ts';

const lowest = () => 0;
const highest = () => 0.999_999;

describe('retry delays', () => {
  it('back off exponentially with equal jitter, capped at 5 minutes', () => {
    const error = new Error('boom');
    expect([1, 2, 3].map((n) => retryDelay(n, error, lowest))).toEqual([250, 500, 1_000]);
    expect(retryDelay(3, error, highest)).toBe(1_999);
    expect(retryDelay(40, error, highest)).toBeLessThanOrEqual(5 * 60_000);
  });

  it("follow the SaaS's Retry-After", () => {
    const error = new SaasError({
      kind: 'retryable',
      code: 'RATE_LIMITED',
      message: 'slow down',
      endpoint: '/addCustomerAndPaymentInstrument',
      requestId: 'r-1',
      status: 429,
      retryAfterMs: 2_000,
    });
    expect(retryDelay(1, error, lowest)).toBe(2_000);
  });

  it('retry a completion that beat the record of its 202 after tens of milliseconds, then as usual', () => {
    const error = new TraceNotYetKnown('trace t-1 is not stored yet');
    expect(retryDelay(1, error, lowest)).toBe(25);
    expect(retryDelay(1, error, highest)).toBeLessThan(50);
    expect(retryDelay(2, error, lowest)).toBe(retryDelay(2, new Error('other'), lowest));
  });
});

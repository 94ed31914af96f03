import { describe, expect, it } from 'vitest';
import { findLeakedPans, findPans, isPlausiblePan, maskPan, maskPansIn } from './pan.ts';

describe('card numbers', () => {
  it('finds Luhn-valid numbers of the card networks, plain or grouped', () => {
    expect(
      findPans('visa 4111111111111111, amex 3782 822463 10005, mc 5555-5555-5555-4444, visa13 4222222222222'),
    ).toEqual(['4111111111111111', '3782 822463 10005', '5555-5555-5555-4444', '4222222222222']);
  });

  it('leaves alone what only looks like one: timestamps, ids, longer numbers, Luhn failures', () => {
    expect(isPlausiblePan('1795566515239')).toBe(false); // an epoch-ms timestamp, Luhn-valid
    expect(isPlausiblePan('4111111111111112')).toBe(false);
    expect(findPans('id 41111111111111110000 ts 1795566515239-1 stream 1795566515239-0')).toEqual([]);
    // Digit groups inside UUIDs and hex ids (this one forms a Luhn-valid 4796-5847-4347-9).
    expect(
      findPans('webhook-msg_6c3c4796-5847-4347-9e10-e51cc3e0f01d 12345678-4111-1111-1111-111111111111'),
    ).toEqual([]);
  });

  it('leak scans set aside trace-context ids in their own shapes, and nothing else', () => {
    // The trace id a CI run's span scan flagged: its letters enclose the Luhn-valid 4768775040189.
    const traceId = 'ca4768775040189e0d2b6f3a1c5e7d9f';
    const spanId = '4768775040189abc';
    expect(findPans(traceId)).toEqual(['4768775040189']);
    const written = [
      `{"level":30,"trace_id":"${traceId}","span_id":"${spanId}","msg":"submitted"}`,
      `{"traceId":"${traceId}","spanId":"${spanId}","parentSpanId":"${spanId}","name":"ctp submit"}`,
      `traceparent 00-${traceId}-${spanId}-01`,
    ];
    for (const line of written) expect(findLeakedPans(line)).toEqual([]);
    // A card number in any other field, or glued to hex outside those shapes, is still found.
    expect(findLeakedPans(`{"trace_id":"${traceId}","msg":"card 4111111111111111"}`)).toEqual([
      '4111111111111111',
    ]);
    expect(findLeakedPans(`{"note":"${traceId}"}`)).toEqual(['4768775040189']);
    expect(findLeakedPans(`{"trace_id":"c9${'4111111111111111'}e0d2b6f3a1c5e7"}`)).toEqual([]);
    expect(findLeakedPans(`{"trace_id":"4111111111111111"}`)).toEqual(['4111111111111111']);
  });

  it('masks to first 6 and last 4', () => {
    expect(maskPan('4111111111111111')).toBe('411111******1111');
    expect(maskPansIn('card 4111111111111111.')).toBe('card 411111******1111.');
  });
});

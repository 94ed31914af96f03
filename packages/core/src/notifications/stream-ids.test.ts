import { describe, expect, it } from 'vitest';
import { compareStreamIds, previousStreamId, sinceToStreamId, streamIdTime } from './stream-ids.ts';

describe('stream ids', () => {
  it('compare as numbers, not strings', () => {
    expect(compareStreamIds('999-0', '1000-0')).toBeLessThan(0);
    expect(compareStreamIds('1000-10', '1000-9')).toBeGreaterThan(0);
    expect(compareStreamIds('1000', '1000-0')).toBe(0);
  });

  it('step back to the id just before, so XREAD includes the one given', () => {
    expect(previousStreamId('1000-5')).toBe('1000-4');
    expect(previousStreamId('1000-0')).toBe('999-18446744073709551615');
    expect(previousStreamId('0-0')).toBe('0-0');
  });

  it('carry the time Redis appended the entry', () => {
    expect(streamIdTime('1795564800000-3').toISOString()).toBe('2026-11-25T00:00:00.000Z');
  });

  it('read --since as a stream id, an ISO time or a duration back from now', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(sinceToStreamId('1795564800000-3', now)).toBe('1795564800000-3');
    expect(sinceToStreamId('1795564800000', now)).toBe('1795564800000-0');
    expect(sinceToStreamId('2026-11-25T00:00:00Z', now)).toBe('1795564800000-0');
    expect(sinceToStreamId('12h', now)).toBe('1795564800000-0');
    expect(sinceToStreamId('90s', now)).toBe(`${now.getTime() - 90_000}-0`);
    for (const bad of ['yesterday', '12 hours', '2026-13-45', ''])
      expect(sinceToStreamId(bad, now)).toBeUndefined();
  });
});

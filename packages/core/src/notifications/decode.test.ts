import { describe, expect, it } from 'vitest';
import { decodeNotificationEntry } from './decode.ts';
import { buildStatusChangedNotification } from './payloads.ts';

const fields = (record: Record<string, string>) => new Map(Object.entries(record));

describe('decodeNotificationEntry', () => {
  it('tags a valid payload with its shape', () => {
    const payload = buildStatusChangedNotification({
      tenant: 'ENBDTABBY',
      entityId: 'e-1',
      ctpEntityStatus: 'DISABLED',
      clickToPayCustomerId: 'c-1',
      occurredAt: '2026-11-23T10:00:05Z',
    });
    expect(
      decodeNotificationEntry(fields({ notificationId: 'n-1', payload: JSON.stringify(payload) })),
    ).toEqual({
      ok: true,
      notificationId: 'n-1',
      kind: 'status_changed',
      payload,
    });
  });

  it('explains what is wrong with the schema the payload meant to follow, naming no values', () => {
    const payload = {
      business: 'ENBDTABBY',
      transactionType: 'CTP_ADD_KIT',
      serverNotifyData: { requestStatus: 'FAILED', entityId: 4111111111111111, tenant: 'ENBDTABBY' },
    };
    const decoded = decodeNotificationEntry(
      fields({ notificationId: 'n-2', payload: JSON.stringify(payload) }),
    );
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.reason).toMatch(
      /^payload does not match the failure schema: serverNotifyData\.entityId: /,
    );
    expect(decoded.reason).not.toContain('4111');
  });
});

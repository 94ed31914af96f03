import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook } from './standard-webhooks.ts';

const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
const body = JSON.stringify({
  type: 'request.completed',
  tenant: 'ENBDTABBY',
  data: { requestTraceId: 't-1' },
});

describe('Standard Webhooks', () => {
  it('signs what the standardwebhooks package accepts', () => {
    const headers = signWebhook(secret, 'msg_1', body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('accepts what the standardwebhooks package signs', () => {
    const now = new Date();
    const signed = new Webhook(secret).sign('msg_2', now, body);
    const headers = {
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signed,
    };
    expect(verifyWebhook(secret, headers, body)).toEqual({
      ok: true,
      value: { id: 'msg_2', timestamp: Number(headers['webhook-timestamp']) },
    });
    expect(verifyWebhook(secret, new Headers(headers), body).ok).toBe(true);
  });

  it('accepts one matching signature among several (sender-side key rotation)', () => {
    const headers = signWebhook(secret, 'msg_3', body);
    const rotated = {
      ...headers,
      'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}`,
    };
    expect(verifyWebhook(secret, rotated, body).ok).toBe(true);
  });

  it('refuses a tampered body, another secret, a missing header', () => {
    const headers = signWebhook(secret, 'msg_4', body);
    expect(verifyWebhook(secret, headers, body.replace('t-1', 't-2'))).toEqual({
      ok: false,
      error: 'NO_MATCHING_SIGNATURE',
    });
    expect(verifyWebhook(`whsec_${Buffer.alloc(32, 4).toString('base64')}`, headers, body).ok).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'webhook-id': '' }, body)).toEqual({
      ok: false,
      error: 'MISSING_HEADERS',
    });
    expect(verifyWebhook(secret, { ...headers, 'webhook-signature': 'v2,abc' }, body).ok).toBe(false);
  });

  it('refuses a timestamp more than 5 minutes away, either way, as the package does', () => {
    const sixMinutesAgo = new Date(Date.now() - 6 * 60_000);
    const old = signWebhook(secret, 'msg_5', body, sixMinutesAgo);
    expect(verifyWebhook(secret, old, body)).toEqual({ ok: false, error: 'TIMESTAMP_TOO_OLD' });
    expect(() => new Webhook(secret).verify(body, { ...old })).toThrow();
    const future = signWebhook(secret, 'msg_6', body, new Date(Date.now() + 6 * 60_000));
    expect(verifyWebhook(secret, future, body)).toEqual({ ok: false, error: 'TIMESTAMP_TOO_NEW' });
    const fourMinutesAgo = signWebhook(secret, 'msg_7', body, new Date(Date.now() - 4 * 60_000));
    expect(verifyWebhook(secret, fourMinutesAgo, body).ok).toBe(true);
    expect(verifyWebhook(secret, { ...old, 'webhook-timestamp': '17e8' }, body)).toEqual({
      ok: false,
      error: 'INVALID_TIMESTAMP',
    });
  });
});

import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, webhookVerifier } from './standard-webhooks.ts';

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

describe('the signature header, parsed as the standardwebhooks package parses it', () => {
  const headers = signWebhook(secret, 'msg_8', body);
  const good = headers['webhook-signature'];
  const sig = good.slice('v1,'.length);
  const packageAccepts = (signature: string): boolean => {
    try {
      new Webhook(secret).verify(body, { ...headers, 'webhook-signature': signature });
      return true;
    } catch {
      return false;
    }
  };

  it.each([
    ['the signature', good, true],
    ['trailing characters', `${good}!!`, false],
    ['trailing base64 characters', `${good}AA`, false],
    ['the padding left off', `v1,${sig.replace(/=+$/, '')}`, false],
    ['characters outside base64', `v1,${sig.slice(0, -4)}@@@=`, false],
    [
      'url-safe base64 of the same bytes',
      `v1,${sig.replaceAll('+', '-').replaceAll('/', '_')}`,
      !/[+/]/.test(sig),
    ],
    ['leading characters', `v1, ${sig}`, false],
    ['another version', `v1a,${sig}`, false],
    ['an empty entry before it', ` ${good}`, true],
    ['several entries, one valid', `v1,${Buffer.alloc(32).toString('base64')} v1,!!! ${good}`, true],
    ['several entries, none valid', `v1,${Buffer.alloc(32).toString('base64')} v1,${sig}!!`, false],
  ])('%s: accepted exactly when the package accepts it', (_name, signature, accepted) => {
    expect(packageAccepts(signature)).toBe(accepted);
    const result = verifyWebhook(secret, { ...headers, 'webhook-signature': signature }, body);
    expect(result.ok).toBe(accepted);
    if (!accepted) expect(result).toEqual({ ok: false, error: 'NO_MATCHING_SIGNATURE' });
  });

  it('takes either key while the SaaS rotates its secret (old and new signatures in one header)', () => {
    const next = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const old = signWebhook(secret, 'msg_9', body);
    const rotated = signWebhook(next, 'msg_9', body, new Date(Number(old['webhook-timestamp']) * 1000));
    const both = {
      ...old,
      'webhook-signature': `${old['webhook-signature']} ${rotated['webhook-signature']}`,
    };
    expect(verifyWebhook(secret, both, body).ok).toBe(true);
    expect(verifyWebhook(next, both, body).ok).toBe(true);
    expect(verifyWebhook(`whsec_${Buffer.alloc(32, 10).toString('base64')}`, both, body)).toEqual({
      ok: false,
      error: 'NO_MATCHING_SIGNATURE',
    });
  });
});

describe('the webhook secret', () => {
  it('is refused when the verifier is built, not at every delivery, if the package cannot read it', () => {
    const broken = `whsec_${Buffer.alloc(32, 3).toString('base64')}==AA`;
    expect(() => webhookVerifier(broken)).toThrow('the webhook secret is not whsec_ followed by base64');
    expect(() => webhookVerifier(secret)).not.toThrow();
  });
});

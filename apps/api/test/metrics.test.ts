import { randomUUID } from 'node:crypto';
import { DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import { createMetricsRegistry, type Registry } from '@ctp/core/metrics';
import { signWebhook } from '@ctp/core/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityBody, kitBody, startTestApi, type TestApi } from './helpers.ts';

/** The api's `/metrics`: each series named in the issue moves when its event happens. */

let api: TestApi;
let registry: Registry;

beforeAll(async () => {
  registry = createMetricsRegistry('api');
  api = await startTestApi({ metrics: registry });
});

afterAll(async () => {
  await api?.close();
});

async function scrape(): Promise<string> {
  const answer = await api.call('GET', '/metrics', { as: null });
  expect(answer.status).toBe(200);
  return answer.text;
}

/** The value of one series, 0 when it has no sample yet. */
function value(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const body = JSON.stringify({
  type: 'consumer.status_changed',
  tenant: 'ENBDTABBY',
  data: {
    externalConsumerId: 'nobody',
    clickToPayCustomerId: 'c',
    status: 'DISABLED',
    occurredAt: '2026-11-23T10:00:05Z',
  },
});

describe('api metrics', () => {
  it('observes HTTP latency by route pattern and status, never by the path with its ids', async () => {
    const id = randomUUID();
    const before = await scrape();
    const series = { route: '/v1/ctp/operations/:operationId', status: '404', method: 'GET' };
    await api.call('GET', `/v1/ctp/operations/${id}`);
    await api.call('GET', `/v1/ctp/operations/${id}`, { as: null });
    const after = await scrape();
    expect(value(after, 'ctp_http_request_duration_seconds_count', series)).toBe(
      value(before, 'ctp_http_request_duration_seconds_count', series) + 1,
    );
    expect(value(after, 'ctp_http_request_duration_seconds_count', { ...series, status: '401' })).toBe(1);
    await api.call('GET', '/no/such/route', { as: null });
    expect(value(await scrape(), 'ctp_http_request_duration_seconds_count', { route: 'unmatched' })).toBe(1);
    expect(after).not.toContain(id);
  });

  it('counts webhook deliveries by result', async () => {
    const id = `msg_${randomUUID()}`;
    const signed = {
      ...signWebhook(DEV_DEFAULTS.CTP_WEBHOOK_SECRET, id, body),
      'content-type': 'application/json',
    };
    const deliveries = async () => {
      const text = await scrape();
      return Object.fromEntries(
        ['recorded', 'duplicate', 'bad_signature', 'invalid'].map((result) => [
          result,
          value(text, 'ctp_webhook_deliveries_total', { result }),
        ]),
      );
    };
    expect(await deliveries()).toEqual({ recorded: 0, duplicate: 0, bad_signature: 0, invalid: 0 });
    expect(
      (await api.call('POST', '/v1/ctp/webhooks/saas', { raw: body, headers: signed, as: null })).status,
    ).toBe(200);
    expect(
      (await api.call('POST', '/v1/ctp/webhooks/saas', { raw: body, headers: signed, as: null })).status,
    ).toBe(200);
    const forged = { ...signed, 'webhook-signature': 'v1,AAAA' };
    expect(
      (await api.call('POST', '/v1/ctp/webhooks/saas', { raw: body, headers: forged, as: null })).status,
    ).toBe(401);
    const junk = '{"type":"nope"}';
    const junkSigned = {
      ...signWebhook(DEV_DEFAULTS.CTP_WEBHOOK_SECRET, `msg_${randomUUID()}`, junk),
      'content-type': 'application/json',
    };
    expect(
      (await api.call('POST', '/v1/ctp/webhooks/saas', { raw: junk, headers: junkSigned, as: null })).status,
    ).toBe(400);
    expect(await deliveries()).toEqual({ recorded: 1, duplicate: 1, bad_signature: 1, invalid: 1 });
  });

  it('exposes no secret, key or card number', async () => {
    await api.call('PUT', '/v1/entities/ent-m', { json: entityBody() });
    const kit = kitBody();
    expect((await api.call('PUT', '/v1/entities/ent-m/kits/kit-m', { json: kit })).status).toBeLessThan(300);
    const text = await scrape();
    expect(text).not.toContain(kit.pan);
    expect(text).toContain('route="/v1/entities/:entityId/kits/:kitNo"');
    const config = loadConfig({});
    const secrets = [
      config.CTP_SAAS_API_KEY,
      config.CTP_WEBHOOK_SECRET,
      config.PAN_ENCRYPTION_KEY,
      config.DASHBOARD_PASSWORD,
      ...config.API_KEYS.map((k) => k.key),
    ];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('service="api"');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Answer,
  DEMO,
  dumpRecords,
  ENBD,
  entityBody,
  errorOf,
  kitBody,
  startTestApi,
  type TestApi,
} from './helpers.ts';

// Tenant CTP settings (platform contract v2, "Tenant CTP settings"): the defaults, a replace
// and its audit row, refusals naming the fields, and `CTP_NOT_ENABLED` on every route that would
// start an enrolment (v1 and the M2P facade) while removals and updates are not refused by it.

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ m2pAcceptWaitMs: 0 });
  for (const id of ['s-off', 's-listed', 's-unlisted', 's-m2p', 's-remove']) {
    expect((await api.call('PUT', `/v1/entities/${id}`, { json: entityBody() })).status).toBe(201);
    expect((await api.call('PUT', `/v1/entities/${id}/kits/k-${id}`, { json: kitBody() })).status).toBe(201);
  }
  await api.call('PUT', '/v1/entities/s-demo', { json: entityBody(), as: DEMO });
  await api.call('PUT', '/v1/entities/s-demo/kits/k-s-demo', { json: kitBody(), as: DEMO });
});

afterAll(async () => {
  expect(api.leakedPans()).toEqual([]);
  await api?.close();
});

const DEFAULTS = {
  mode: 'ALL',
  allowList: [],
  autoEnrol: false,
  eligibleBins: [],
  consentVersion: null,
  defaultLocale: null,
  saasRatePerSecond: null,
  updatedAt: null,
};

const put = (json: unknown, options: { as?: string; headers?: Record<string, string> } = {}) =>
  api.call('PUT', '/v1/ctp/settings', { json, ...options });

const register = (entityId: string, options: { as?: string } = {}) =>
  api.call('POST', `/v1/ctp/entities/${entityId}/registration`, {
    json: { kitNo: `k-${entityId}` },
    ...options,
  });

async function auditRows() {
  return api.db.orm.em
    .getConnection()
    .execute<
      { actor: string; action: string; target: string; tenant: string; details: Record<string, string> }[]
    >(
      `select actor, action, target, tenant, details from ctp_audit_log where action = 'settings.update' order by pkey`,
    );
}

function refusedNotEnabled(answer: Answer) {
  expect(answer.status, answer.text).toBe(409);
  expect(errorOf(answer).code).toBe('CTP_NOT_ENABLED');
}

describe('GET and PUT /v1/ctp/settings', () => {
  it('answers the v1 defaults for a tenant that never set any', async () => {
    const answer = await api.call('GET', '/v1/ctp/settings');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(DEFAULTS);
  });

  it('replaces the settings whole, audits who, when, before and after, and GET reads them back', async () => {
    const settings = {
      mode: 'ALLOW_LIST',
      allowList: ['s-listed', 's-listed', 's-remove'],
      autoEnrol: true,
      eligibleBins: ['411111', '55555544'],
      consentVersion: '1.0',
      defaultLocale: 'en_AE',
      saasRatePerSecond: 25,
    };
    const answer = await put(settings);
    expect(answer.status, answer.text).toBe(200);
    const stored = { ...settings, allowList: ['s-listed', 's-remove'] };
    expect(answer.body).toMatchObject(stored);
    const read = await api.call('GET', '/v1/ctp/settings');
    expect(read.body).toEqual(answer.body);
    expect((read.body as { updatedAt: string }).updatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const [audit] = await auditRows();
    expect(audit).toMatchObject({ action: 'settings.update', target: `settings:${ENBD}`, tenant: ENBD });
    expect(audit?.actor).toMatch(/^api-key:\d+$/);
    expect(JSON.parse(audit?.details.before ?? '')).toBeNull();
    expect(JSON.parse(audit?.details.after ?? '')).toEqual(answer.body);

    // Another tenant's settings are its own.
    expect((await api.call('GET', '/v1/ctp/settings', { as: DEMO })).body).toEqual(DEFAULTS);
  });

  it('refuses bad bodies with 400 naming each field, and changes nothing', async () => {
    const before = JSON.stringify((await api.call('GET', '/v1/ctp/settings')).body);
    const audits = (await auditRows()).length;
    const cases: [unknown, string[]][] = [
      [{}, ['mode']],
      [{ mode: 'SOME' }, ['mode']],
      [{ mode: 'ALL', eligibleBins: ['4111'] }, ['eligibleBins.0']],
      [{ mode: 'ALL', eligibleBins: ['4111111'] }, ['eligibleBins.0']],
      [{ mode: 'ALL', allowList: ['ok', 'a/b'] }, ['allowList.1']],
      [{ mode: 'ALL', consentVersion: 'v\u0000' }, ['consentVersion']],
      [{ mode: 'ALL', consentVersion: '4111111111111111' }, ['consentVersion']],
      [{ mode: 'ALL', defaultLocale: 'english' }, ['defaultLocale']],
      [{ mode: 'ALL', saasRatePerSecond: 0 }, ['saasRatePerSecond']],
      [{ mode: 'ALL', saasRatePerSecond: '5' }, ['saasRatePerSecond']],
      [{ mode: 'ALL', autoEnrol: 'yes' }, ['autoEnrol']],
      [{ mode: 'ALL', pan: '4111111111111111' }, ['pan']],
    ];
    for (const [body, fields] of cases) {
      const answer = await put(body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(answer)).toMatchObject({ code: 'VALIDATION_FAILED', fields });
    }
    expect(JSON.stringify((await api.call('GET', '/v1/ctp/settings')).body)).toBe(before);
    expect((await auditRows()).length).toBe(audits);
  });

  it('answers a repeated Idempotency-Key with the first answer, and 422 for other settings', async () => {
    const headers = { 'Idempotency-Key': 'settings-1' };
    const body = { mode: 'ALL', consentVersion: '2.0' };
    const first = await put(body, { as: DEMO, headers });
    expect(first.status).toBe(200);
    const again = await put(body, { as: DEMO, headers });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const other = await put({ mode: 'OFF' }, { as: DEMO, headers });
    expect(other.status).toBe(422);
    expect(errorOf(other).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await api.call('GET', '/v1/ctp/settings', { as: DEMO })).body).toEqual(first.body);
    // One audit row for the one change.
    expect((await auditRows()).filter((row) => row.tenant === DEMO)).toHaveLength(1);
  });
});

describe('CTP_NOT_ENABLED', () => {
  it('ALLOW_LIST: an entity on the list may enrol, another is refused and nothing is written', async () => {
    expect((await put({ mode: 'ALLOW_LIST', allowList: ['s-listed'] })).status).toBe(200);
    const before = await dumpRecords(api.db);
    refusedNotEnabled(await register('s-unlisted'));
    refusedNotEnabled(
      await api.call('POST', '/v1/ctp/entities/s-unlisted/kits', { json: { kitNo: 'k-s-unlisted' } }),
    );
    expect(await dumpRecords(api.db)).toBe(before);
    expect((await register('s-listed')).status).toBe(202);
  });

  it('OFF: registration and kits are refused; another tenant is not affected', async () => {
    expect((await put({ mode: 'OFF', allowList: ['s-off'] })).status).toBe(200);
    refusedNotEnabled(await register('s-off'));
    refusedNotEnabled(await api.call('POST', '/v1/ctp/entities/s-off/kits', { json: { kitNo: 'k-s-off' } }));
    expect((await register('s-demo', { as: DEMO })).status).toBe(202);
  });

  it('OFF: removals and updates are not refused by the settings (the lifecycle decides)', async () => {
    expect((await put({ mode: 'OFF' })).status).toBe(200);
    for (const [method, path] of [
      ['DELETE', '/v1/ctp/entities/s-remove'],
      ['DELETE', '/v1/ctp/entities/s-remove/kits/k-s-remove'],
      ['POST', '/v1/ctp/entities/s-remove/sync'],
      ['POST', '/v1/ctp/entities/s-remove/kits/k-s-remove/sync'],
    ] as const) {
      const answer = await api.call(method, path);
      // Not on CTP: the lifecycle's refusal, not the settings'.
      expect(answer.status, `${method} ${path}`).toBe(409);
      expect(errorOf(answer).code, `${method} ${path}`).toBe('INVALID_STATE');
    }
  });

  it('the M2P facade answers registerEntityAndKit and addKit with CTP_NOT_ENABLED in its envelope', async () => {
    expect((await put({ mode: 'OFF' })).status).toBe(200);
    for (const name of ['registerEntityAndKit', 'addKit']) {
      const answer = await api.call('POST', `/Yappay/click-to-pay/v1/${name}`, {
        json: { entityId: 's-m2p', kitNo: 'k-s-m2p' },
        headers: { TENANT: ENBD },
      });
      expect(answer.status, answer.text).toBe(409);
      expect(answer.body).toMatchObject({
        result: null,
        exception: {
          errorCode: 'CTP_NOT_ENABLED',
          shortMessage: 'Click to Pay is not enabled for this customer',
        },
      });
    }
    // ALL again: the same request is accepted at once (no restart, no cache).
    expect((await put({ mode: 'ALL' })).status).toBe(200);
    const accepted = await api.call('POST', '/Yappay/click-to-pay/v1/registerEntityAndKit', {
      json: { entityId: 's-m2p', kitNo: 'k-s-m2p' },
      headers: { TENANT: ENBD },
    });
    expect(accepted.status, accepted.text).toBe(200);
  });
});

import { authenticate, createApiKeyAuthenticator, hashApiKey, syncConfiguredApiKeys } from '@ctp/core/auth';
import { ConfigError } from '@ctp/core/config';
import { ApiKey } from '@ctp/core/entities';
import { createOrm } from '@ctp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO,
  DEV_KEYS,
  dumpRecords,
  ENBD,
  entityBody,
  errorOf,
  kitBody,
  MASTERCARD,
  PEPPER,
  startTestApi,
  type TestApi,
} from './helpers.ts';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
  // ENBDTABBY's customer and card, which DEMOBANK must not see.
  await api.call('PUT', '/v1/entities/ent-a', { json: entityBody() });
  await api.call('PUT', '/v1/entities/ent-a/kits/kit-a', { json: kitBody() });
});

afterAll(async () => {
  await api?.close();
});

/** Every route of the records API, with a body that would succeed. */
const ROUTES = [
  { method: 'PUT', path: '/v1/entities/ent-a', json: entityBody({ firstName: 'Changed' }) },
  { method: 'PATCH', path: '/v1/entities/ent-a', json: { firstName: 'Changed' } },
  { method: 'GET', path: '/v1/entities/ent-a' },
  { method: 'PUT', path: '/v1/entities/ent-a/kits/kit-a', json: kitBody({ pan: MASTERCARD }) },
  { method: 'GET', path: '/v1/entities/ent-a/kits/kit-a' },
] as const;

describe('API keys', () => {
  it('are required on every route: none, a bad one, another scheme, a revoked one answer 401', async () => {
    await syncConfiguredApiKeys(api.db.orm.em, [{ tenant: ENBD, key: 'revoked-key-0123456789' }], PEPPER);
    await api.db.orm.em
      .getConnection()
      .execute('update api_key set revoked_at = now() where key_hash = ?', [
        hashApiKey('revoked-key-0123456789', PEPPER),
      ]);
    const before = await dumpRecords(api.db);
    const badHeaders = [
      {},
      { authorization: 'Bearer not-a-key-of-anyone-0000' },
      { authorization: `Basic ${Buffer.from(`x:${DEV_KEYS[ENBD]}`).toString('base64')}` },
      { authorization: `Bearer ${DEV_KEYS[ENBD]} extra` },
      { authorization: 'Bearer ' },
      { authorization: 'Bearer revoked-key-0123456789' },
      { authorization: `Bearer ${'k'.repeat(600)}` },
    ];
    for (const route of ROUTES) {
      for (const headers of badHeaders) {
        const answer = await api.call(route.method, route.path, { ...route, as: null, headers });
        expect(answer.status, `${route.method} ${route.path} ${JSON.stringify(headers).slice(0, 40)}`).toBe(
          401,
        );
        expect(errorOf(answer).code).toBe('UNAUTHORIZED');
        expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it('are checked before anything else under /v1, except on the SaaS webhook receiver', async () => {
    expect((await api.call('GET', '/v1/no-such-route', { as: null })).status).toBe(401);
    expect((await api.call('GET', '/v1/no-such-route')).status).toBe(404);
    // Not guarded by a key: the receiver itself answers, refusing the missing signature.
    const webhook = await api.call('POST', '/v1/ctp/webhooks/saas', { as: null, json: {} });
    expect(webhook.status).toBe(401);
    expect(errorOf(webhook)).toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringContaining('webhook signature'),
    });
  });

  it('decide the tenant: an X-TENANT-ID naming another tenant answers 403, its own is accepted', async () => {
    const before = await dumpRecords(api.db);
    for (const route of ROUTES) {
      const answer = await api.call(route.method, route.path, { ...route, headers: { 'x-tenant-id': DEMO } });
      expect(answer.status, `${route.method} ${route.path}`).toBe(403);
      expect(errorOf(answer).code).toBe('FORBIDDEN');
    }
    expect(await dumpRecords(api.db)).toBe(before);
    const own = await api.call('GET', '/v1/entities/ent-a', { headers: { 'x-tenant-id': ENBD } });
    expect(own.status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it("answers 404 for another tenant's entity and kit on every route, changing nothing", async () => {
    const before = await dumpRecords(api.db);
    for (const route of ROUTES.filter((r) => !(r.method === 'PUT' && r.path === '/v1/entities/ent-a'))) {
      const answer = await api.call(route.method, route.path, { ...route, as: DEMO });
      expect(answer.status, `${route.method} ${route.path}`).toBe(404);
      expect(errorOf(answer).code).toBe('NOT_FOUND');
    }
    expect(await dumpRecords(api.db)).toBe(before);
  });

  it("lets a tenant create its own records under ids another tenant uses, without touching the other's", async () => {
    const enbdEntity = (await api.call('GET', '/v1/entities/ent-a')).text;
    const enbdKit = (await api.call('GET', '/v1/entities/ent-a/kits/kit-a')).text;

    // As if ENBDTABBY's ent-a did not exist: created, not replaced.
    const created = await api.call('PUT', '/v1/entities/ent-a', {
      as: DEMO,
      json: entityBody({ lastName: 'Demo' }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ lastName: 'Demo', kits: [] });
    // DEMOBANK's ent-a still has no kit-a: ENBDTABBY's card is not reachable through it.
    expect((await api.call('GET', '/v1/entities/ent-a/kits/kit-a', { as: DEMO })).status).toBe(404);
    const kit = await api.call('PUT', '/v1/entities/ent-a/kits/kit-a', {
      as: DEMO,
      json: kitBody({ pan: MASTERCARD }),
    });
    expect(kit.status).toBe(201);
    expect(kit.body).toMatchObject({ pan: '555555******4444' });

    expect((await api.call('GET', '/v1/entities/ent-a')).text).toBe(enbdEntity);
    expect((await api.call('GET', '/v1/entities/ent-a/kits/kit-a')).text).toBe(enbdKit);
    expect((await api.call('GET', '/v1/entities/ent-a', { as: DEMO })).body).toMatchObject({
      lastName: 'Demo',
      kits: [{ kitNo: 'kit-a', pan: '555555******4444' }],
    });
  });
});

describe('configured keys', () => {
  it('are stored hashed, once, however often and however concurrently they are synced', async () => {
    const em = api.db.orm.em;
    const keys = [
      { tenant: 'SYNCBANK', key: 'sync-key-a-0123456789' },
      { tenant: 'SYNCBANK', key: 'sync-key-b-0123456789' },
    ];
    // Separate connections, as separate api processes booting at once would have.
    const others = await Promise.all([1, 2, 3].map(() => createOrm({ databaseUrl: api.db.databaseUrl })));
    try {
      await Promise.all(
        [em, ...others.map((orm) => orm.em)].map((m) => syncConfiguredApiKeys(m, keys, PEPPER)),
      );
    } finally {
      await Promise.all(others.map((orm) => orm.close()));
    }
    await syncConfiguredApiKeys(em, keys, PEPPER);
    const rows = await em.fork().find(ApiKey, { tenant: 'SYNCBANK' }, { orderBy: { keyHash: 'asc' } });
    expect(rows.map((r) => r.keyHash)).toEqual(keys.map((k) => hashApiKey(k.key, PEPPER)).sort());
    expect(rows.every((r) => r.revokedAt === null)).toBe(true);
    const table = JSON.stringify(await em.getConnection().execute('select * from api_key'));
    for (const { key } of [...keys, { key: DEV_KEYS[ENBD] ?? '' }]) expect(table).not.toContain(key);
  });

  it('follow the configuration for the tenant, but a sync does not undo a revocation', async () => {
    const em = api.db.orm.em;
    await syncConfiguredApiKeys(em, [{ tenant: 'MOVEBANK', key: 'move-key-0123456789' }], PEPPER);
    await syncConfiguredApiKeys(em, [{ tenant: 'MOVEDBANK', key: 'move-key-0123456789' }], PEPPER);
    expect(await authenticate(em, 'move-key-0123456789', PEPPER)).toBe('MOVEDBANK');
    await em
      .getConnection()
      .execute('update api_key set revoked_at = now() where key_hash = ?', [
        hashApiKey('move-key-0123456789', PEPPER),
      ]);
    await syncConfiguredApiKeys(em, [{ tenant: 'MOVEDBANK', key: 'move-key-0123456789' }], PEPPER);
    expect(await authenticate(em, 'move-key-0123456789', PEPPER)).toBeNull();
  });

  it('refuse one key listed for two tenants, naming the tenants but not the key', async () => {
    const run = syncConfiguredApiKeys(
      api.db.orm.em,
      [
        { tenant: 'A', key: 'shared-key-0123456789' },
        { tenant: 'B', key: 'shared-key-0123456789' },
      ],
      PEPPER,
    );
    await expect(run).rejects.toBeInstanceOf(ConfigError);
    await expect(run).rejects.toThrow(/A and B/);
    await expect(run).rejects.not.toThrow(/shared-key/);
  });
});

describe('the authenticator cache', () => {
  it('trusts a key for its TTL, then asks again; remembers a bad key for a shorter one', async () => {
    const em = api.db.orm.em;
    let now = 1_000_000;
    const cached = createApiKeyAuthenticator({
      pepper: PEPPER,
      ttlMs: 30_000,
      negativeTtlMs: 5_000,
      now: () => now,
    });
    await syncConfiguredApiKeys(em, [{ tenant: 'CACHEBANK', key: 'cache-key-0123456789' }], PEPPER);
    expect(await cached.authenticate(em, 'cache-key-0123456789')).toBe('CACHEBANK');
    await em
      .getConnection()
      .execute('update api_key set revoked_at = now() where key_hash = ?', [
        hashApiKey('cache-key-0123456789', PEPPER),
      ]);
    now += 29_000;
    expect(await cached.authenticate(em, 'cache-key-0123456789')).toBe('CACHEBANK');
    now += 2_000;
    expect(await cached.authenticate(em, 'cache-key-0123456789')).toBeNull();

    expect(await cached.authenticate(em, 'later-key-0123456789')).toBeNull();
    await syncConfiguredApiKeys(em, [{ tenant: 'CACHEBANK', key: 'later-key-0123456789' }], PEPPER);
    now += 4_000;
    expect(await cached.authenticate(em, 'later-key-0123456789')).toBeNull();
    now += 2_000;
    expect(await cached.authenticate(em, 'later-key-0123456789')).toBe('CACHEBANK');
  });

  it('stays bounded', async () => {
    const em = api.db.orm.em;
    const cached = createApiKeyAuthenticator({ pepper: PEPPER, maxEntries: 3 });
    await syncConfiguredApiKeys(em, [{ tenant: 'BOUNDBANK', key: 'bound-key-0123456789' }], PEPPER);
    expect(await cached.authenticate(em, 'bound-key-0123456789')).toBe('BOUNDBANK');
    for (let i = 0; i < 5; i++) await cached.authenticate(em, `random-${i}-0123456789`);
    await em
      .getConnection()
      .execute('update api_key set revoked_at = now() where key_hash = ?', [
        hashApiKey('bound-key-0123456789', PEPPER),
      ]);
    // Evicted by the flood, so the database is asked again and the revocation is seen at once.
    expect(await cached.authenticate(em, 'bound-key-0123456789')).toBeNull();
  });
});

describe('card data', () => {
  it('never appears in an answer or a log line', () => {
    expect(api.leakedPans()).toEqual([]);
  });
});

import { findPans } from '@ctp/core/cards';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, CREDENTIALS, type TestDashboard } from './helpers.ts';

/**
 * The tenants' CTP settings on the dashboard: linked from the navigation, shown per tenant,
 * edited with the session's CSRF token and the api's validation, and every edit audited.
 */

const TENANT = 'ENBDTABBY';
let db: TestDatabase;
let dashboard: TestDashboard;
let cookie: string;
let csrf: string;

beforeAll(async () => {
  db = await createTestDatabase();
  // A tenant the dashboard knows: one with an API key.
  await db.orm.em
    .getConnection()
    .execute(
      `insert into api_key (tenant, key_hash) values (?, repeat('a', 64)), ('DEMOBANK', repeat('b', 64))`,
      [TENANT],
    );
  dashboard = buildDashboard(db.orm);
  cookie = await dashboard.login();
  csrf = await dashboard.csrf(cookie);
});

afterAll(async () => {
  await dashboard?.close();
  await db?.drop();
});

const get = (path: string) => dashboard.app.request(path, { headers: { cookie } });
const post = (path: string, fields: Record<string, string>) =>
  dashboard.app.request(path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });

async function stored() {
  return db.orm.em
    .getConnection()
    .execute<{ mode: string; allow_list: string[]; auto_enrol: boolean; eligible_bins: string[] }[]>(
      `select mode, allow_list, auto_enrol, eligible_bins from ctp_tenant_settings where tenant = ?`,
      [TENANT],
    );
}

async function audits() {
  return db.orm.em
    .getConnection()
    .execute<{ pkey: string; actor: string; tenant: string; details: Record<string, string> }[]>(
      `select pkey::text as pkey, actor, tenant, details from ctp_audit_log where action = 'settings.update' order by pkey`,
    );
}

describe('dashboard: tenant CTP settings', () => {
  it('is linked from the navigation and lists the tenants with their settings (defaults when none)', async () => {
    expect(await (await get('/audit')).text()).toContain('<a href="/settings">CTP settings</a>');
    const list = await get('/settings');
    expect(list.status).toBe(200);
    expect(list.headers.get('content-security-policy')).toContain("default-src 'none'");
    const text = await list.text();
    expect(text).toContain(`href="/settings/${TENANT}"`);
    expect(text).toContain('DEMOBANK');
    expect(text).toContain('never (defaults)');
    const page = await get(`/settings/${TENANT}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<option value="ALL" selected>ALL</option>');
    expect((await get('/settings/NOBODY')).status).toBe(404);
  });

  it('refuses an edit without the CSRF token, and changes nothing', async () => {
    const answer = await post(`/settings/${TENANT}`, { mode: 'OFF' });
    expect(answer.status).toBe(403);
    const forged = await post(`/settings/${TENANT}`, { csrf: 'forged', mode: 'OFF' });
    expect(forged.status).toBe(403);
    expect(await stored()).toEqual([]);
    expect(await audits()).toEqual([]);
  });

  it('refuses a bad edit naming the fields, keeps what was typed, and changes nothing', async () => {
    const answer = await post(`/settings/${TENANT}`, {
      csrf,
      mode: 'ALLOW_LIST',
      allowList: 'e-1\ne/2',
      eligibleBins: '4111',
      defaultLocale: 'english',
      saasRatePerSecond: 'fast',
    });
    expect(answer.status).toBe(400);
    const text = await answer.text();
    for (const field of ['allowList.1', 'eligibleBins.0', 'defaultLocale', 'saasRatePerSecond'])
      expect(text).toContain(`<code>${field}</code>`);
    expect(text).toContain('e-1\ne/2');

    // A card number typed into any field is refused and never echoed back.
    const withPan = await post(`/settings/${TENANT}`, {
      csrf,
      mode: 'ALLOW_LIST',
      allowList: '4111111111111111',
      consentVersion: 'v 4111 1111 1111 1111',
    });
    expect(withPan.status).toBe(400);
    const page = await withPan.text();
    expect(page).toContain('<code>allowList.0</code>');
    expect(page).toContain('<code>consentVersion</code>');
    expect(findPans(page)).toEqual([]);
    expect(await stored()).toEqual([]);
    expect(await audits()).toEqual([]);
  });

  it('saves an edit, audits it with the operator, before and after, and shows it', async () => {
    const answer = await post(`/settings/${TENANT}`, {
      csrf,
      mode: 'ALLOW_LIST',
      allowList: 'e-1\r\ne-2\r\n',
      autoEnrol: 'true',
      eligibleBins: '411111, 55555544',
      consentVersion: '1.0',
      defaultLocale: 'en_AE',
      saasRatePerSecond: '12.5',
    });
    expect(answer.status).toBe(303);
    const location = answer.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^/settings/${TENANT}\\?audit=\\d+$`));
    expect(await stored()).toEqual([
      {
        mode: 'ALLOW_LIST',
        allow_list: ['e-1', 'e-2'],
        auto_enrol: true,
        eligible_bins: ['411111', '55555544'],
      },
    ]);
    const [audit] = await audits();
    expect(location).toContain(`audit=${audit?.pkey}`);
    expect(audit).toMatchObject({ actor: CREDENTIALS.username, tenant: TENANT });
    expect(JSON.parse(audit?.details.before ?? '')).toBeNull();
    expect(JSON.parse(audit?.details.after ?? '')).toMatchObject({
      mode: 'ALLOW_LIST',
      saasRatePerSecond: 12.5,
      defaultLocale: 'en_AE',
    });
    const page = await (await get(location)).text();
    expect(page).toContain('Saved; recorded');
    expect(page).toContain('<option value="ALLOW_LIST" selected>ALLOW_LIST</option>');
    expect(page).toContain('name="autoEnrol" value="true" checked');

    // A second edit records the first as its "before".
    expect((await post(`/settings/${TENANT}`, { csrf, mode: 'OFF' })).status).toBe(303);
    const [, second] = await audits();
    expect(JSON.parse(second?.details.before ?? '')).toMatchObject({ mode: 'ALLOW_LIST', autoEnrol: true });
    expect(JSON.parse(second?.details.after ?? '')).toMatchObject({
      mode: 'OFF',
      autoEnrol: false,
      allowList: [],
    });
  });
});

import { loadConfig } from '@ctp/core/config';
import { createMetricsRegistry } from '@ctp/core/metrics';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginLimiter } from '../src/auth/login-limiter.ts';
import { SESSION_COOKIE, SessionSigner } from '../src/auth/session.ts';
import { buildDashboard, CREDENTIALS, type TestDashboard } from './helpers.ts';

let db: TestDatabase;
let dashboard: TestDashboard;

beforeAll(async () => {
  db = await createTestDatabase();
  dashboard = buildDashboard(db.orm, {
    metrics: createMetricsRegistry('dashboard'),
    loginLimiter: new LoginLimiter({ maxFailures: 3 }),
  });
});

afterAll(async () => {
  await dashboard?.close();
  await db?.drop();
});

const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: 'POST',
  body: new URLSearchParams(fields),
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
});

describe('the dashboard login', () => {
  it('keeps every page and API behind it: pages go to the login form, the rest get 401', async () => {
    const page = await dashboard.app.request('/entities/ENBDTABBY/e-1?x=1', {
      headers: { accept: 'text/html' },
    });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe(
      `/login?next=${encodeURIComponent('/entities/ENBDTABBY/e-1?x=1')}`,
    );
    for (const path of ['/', '/queues', '/queues/api/queues', '/audit', '/search?q=x', '/actions/confirm']) {
      expect((await dashboard.app.request(path)).status, path).toBe(401);
    }
    expect((await dashboard.app.request('/actions', form({ action: 'repoll', target: 'x' }))).status).toBe(
      401,
    );
    expect(
      (await dashboard.app.request('/queues/api/queues/ctp-operations/retry/failed', { method: 'PUT' }))
        .status,
    ).toBe(401);
  });

  it('leaves only the probes, the metrics and the form open', async () => {
    expect((await dashboard.app.request('/healthz')).status).toBe(200);
    expect((await dashboard.app.request('/readyz')).status).toBe(200);
    expect((await dashboard.app.request('/metrics')).status).toBe(200);
    const login = await dashboard.app.request('/login');
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="password"');
  });

  it('refuses a wrong password or username without a cookie, and logs neither', async () => {
    const wrong = await dashboard.app.request(
      '/login',
      form({ username: CREDENTIALS.username, password: 'nope-wrong' }),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).toContain('Wrong username or password.');
    const user = await dashboard.app.request(
      '/login',
      form({ username: 'root', password: CREDENTIALS.password }),
    );
    expect(user.status).toBe(401);
    expect(dashboard.logLines.join('\n')).not.toContain('nope-wrong');
    expect(dashboard.logLines.join('\n')).not.toContain(CREDENTIALS.password);
  });

  it('signs in with the right credentials: an HttpOnly, SameSite=Strict cookie and back where it was going', async () => {
    const answer = await dashboard.app.request('/login', form({ ...CREDENTIALS, next: '/audit' }));
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/audit');
    const cookie = answer.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(CREDENTIALS.password);
    const page = await dashboard.app.request('/audit', { headers: { cookie: cookie.split(';')[0] ?? '' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('never redirects to another site after signing in', async () => {
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const answer = await dashboard.app.request('/login', form({ ...CREDENTIALS, next }));
      expect(answer.headers.get('location'), next).toBe('/');
    }
  });

  it('refuses forged, altered and expired session cookies', async () => {
    const cookie = await dashboard.login();
    const value = cookie.slice(SESSION_COOKIE.length + 1);
    const [body, signature] = value.split('.');
    const forged = new SessionSigner({
      username: CREDENTIALS.username,
      password: 'another-password-xyz',
    }).issue(CREDENTIALS.username).cookie;
    const expired = new SessionSigner(CREDENTIALS).issue(
      CREDENTIALS.username,
      Date.now() - 9 * 3600_000,
    ).cookie;
    const altered = `${Buffer.from(JSON.stringify({ u: 'root', s: 'x', e: Date.now() + 1e6 })).toString('base64url')}.${signature}`;
    for (const bad of [forged, expired, altered, `${body}.`, 'garbage']) {
      const answer = await dashboard.app.request('/audit', {
        headers: { cookie: `${SESSION_COOKIE}=${bad}` },
      });
      expect(answer.status).toBe(401);
    }
  });

  it('refuses actions without the session CSRF token, and state changes from another site', async () => {
    const cookie = await dashboard.login();
    const noToken = await dashboard.app.request(
      '/actions',
      form({ action: 'repoll', target: 'x' }, { cookie }),
    );
    expect(noToken.status).toBe(403);
    const otherSession = await dashboard.csrf(await dashboard.login());
    const wrongToken = await dashboard.app.request(
      '/actions',
      form({ action: 'repoll', target: 'x', csrf: otherSession }, { cookie }),
    );
    expect(wrongToken.status).toBe(403);
    const crossSite = await dashboard.app.request(
      '/actions',
      form(
        { action: 'repoll', target: 'x', csrf: await dashboard.csrf(cookie) },
        { cookie, 'sec-fetch-site': 'cross-site' },
      ),
    );
    expect(crossSite.status).toBe(403);
  });

  it('logs out with the CSRF token', async () => {
    const cookie = await dashboard.login();
    const answer = await dashboard.app.request(
      '/logout',
      form({ csrf: await dashboard.csrf(cookie) }, { cookie }),
    );
    expect(answer.status).toBe(303);
    expect(answer.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=;`));
  });

  it('refuses an address after repeated failures, even with the right password', async () => {
    const limited = buildDashboard(db.orm, { loginLimiter: new LoginLimiter({ maxFailures: 3 }) });
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await limited.app.request('/login', form({ username: 'x', password: 'y' }));
        expect(answer.status).toBe(401);
      }
      const blocked = await limited.app.request('/login', form({ ...CREDENTIALS }));
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await limited.close();
    }
  });

  it('exposes no secret on /metrics', async () => {
    await dashboard.login();
    const text = await (await dashboard.app.request('/metrics')).text();
    expect(text).toContain('ctp_http_request_duration_seconds_bucket');
    expect(text).toContain('route="/login"');
    const secrets = [
      CREDENTIALS.password,
      ...Object.values(loadConfig({})).filter((v) => typeof v === 'string'),
    ].filter(
      (v) => typeof v === 'string' && v.length >= 12 && !v.startsWith('http') && !v.startsWith('redis'),
    );
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginLimiter } from '../src/auth/login-limiter.ts';
import { buildDashboard, CREDENTIALS, type TestDashboard } from './helpers.ts';

/**
 * What an attacker (or a careless paste) can put into the dashboard's inputs: redirect targets,
 * oversized bodies, control characters. None may leave the site, exhaust memory or give a 5xx.
 */

let db: TestDatabase;
let dashboard: TestDashboard;
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dashboard = buildDashboard(db.orm);
  cookie = await dashboard.login();
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

// `app.request` resolves paths against this origin: the dashboard's own.
const ORIGIN = 'http://localhost';

/** `next` as sent, and where the dashboard may send the browser: never to another origin. */
const REDIRECTS: readonly (readonly [string, string])[] = [
  ['/\t/evil.example', '/'],
  ['/\r/evil.example', '/'],
  ['/\n/evil.example', '/'],
  ['\t//evil.example', '/'],
  [' //evil.example', '/'],
  ['//evil.example', '/'],
  ['///evil.example', '/'],
  ['/\\evil.example', '/'],
  ['\\\\evil.example', '/'],
  ['/\\/evil.example', '/'],
  ['/.//evil.example', '/'],
  ['/%2e//evil.example', '/'],
  ['/..//evil.example', '/'],
  ['javascript:alert(1)', '/'],
  ['JavaScript:alert(1)', '/'],
  ['java\tscript:alert(1)', '/'],
  ['data:text/html,<script>alert(1)</script>', '/'],
  ['https://evil.example/', '/'],
  ['https:evil.example', '/'],
  ['http://localhost:8080/audit', '/'],
  ['http://localhost@evil.example/', '/'],
  // Encoded variants stay encoded: a browser reads them as one path segment on this site.
  ['/%09/evil.example', '/%09/evil.example'],
  ['/%2F/evil.example', '/%2F/evil.example'],
  ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
  ['/%5C/evil.example', '/%5C/evil.example'],
  ['%2F%2Fevil.example', '/%2F%2Fevil.example'],
  // This site's own pages, absolute or not, keep their query and fragment.
  ['/audit', '/audit'],
  ['/entities/ENBDTABBY/e-1?x=1#ops', '/entities/ENBDTABBY/e-1?x=1#ops'],
  [`${ORIGIN}/audit?audit=7`, '/audit?audit=7'],
  ['', '/'],
];

describe('redirect targets (next)', () => {
  it.each(REDIRECTS)('after signing in, next=%j goes to %j', async (next, expected) => {
    const answer = await dashboard.app.request('/login', form({ ...CREDENTIALS, next }));
    expect(answer.status).toBe(303);
    const location = answer.headers.get('location') ?? '';
    expect(location).toBe(expected);
    expect(new URL(location, ORIGIN).origin).toBe(ORIGIN);
  });

  it.each(REDIRECTS)('signed in already, GET /login?next=%j goes to %j', async (next, expected) => {
    const answer = await dashboard.app.request(`/login?${new URLSearchParams({ next })}`, {
      headers: { cookie },
    });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe(expected);
  });

  it("reads the probe's literal /login?next=/%09/evil.example as a tab: the form and the redirect stay here", async () => {
    const page = await (await dashboard.app.request('/login?next=/%09/evil.example')).text();
    expect(page).toContain('name="next" value="/"');
    for (const query of ['next=/%09/evil.example', 'next=/%0D%0A/evil.example', 'next=%2F%5Cevil.example']) {
      const answer = await dashboard.app.request(`/login?${query}`, { headers: { cookie } });
      expect(answer.headers.get('location'), query).toBe('/');
    }
  });
});

describe('request bodies', () => {
  const big = 'x'.repeat(200 * 1024);

  it('refuses a form over the limit with 413 before reading it, and a plain page', async () => {
    const answer = await dashboard.app.request('/login', form({ ...CREDENTIALS, next: '/', pad: big }));
    expect(answer.status).toBe(413);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a streamed (chunked) body over the limit as it arrives', async () => {
    const chunk = new TextEncoder().encode(big);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += chunk.length;
        controller.enqueue(chunk);
        // Far more than any limit: the dashboard must stop reading long before.
        if (sent >= 64 * 1024 * 1024) controller.close();
      },
    });
    const answer = await dashboard.app.request('/actions', {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    } as RequestInit);
    expect(answer.status).toBe(413);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it("answers Bull Board's JSON API over the limit with the contract's error body", async () => {
    const answer = await dashboard.app.request('/queues/api/queues/ctp-operations/add', {
      method: 'POST',
      body: JSON.stringify({ name: 'x', data: { pad: big } }),
      headers: { cookie, 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(413);
    expect(await answer.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('checks the login lockout before it reads the body', async () => {
    const limited = buildDashboard(db.orm, { loginLimiter: new LoginLimiter({ maxFailures: 1 }) });
    try {
      const wrong = await limited.app.request('/login', form({ username: 'x', password: 'y' }));
      expect(wrong.status).toBe(401);
      // A body that fails when read: a locked-out address is answered without touching it.
      const unreadable = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.error(new Error('the body was read'));
        },
      });
      const blocked = await limited.app.request('/login', {
        method: 'POST',
        body: unreadable,
        duplex: 'half',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      } as RequestInit);
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await limited.close();
    }
  });
});

describe('typed text with control characters', () => {
  it('answers a NUL byte in the search box with a 400 page', async () => {
    const answer = await dashboard.app.request(`/search?${new URLSearchParams({ q: 'abc\u0000def' })}`, {
      headers: { cookie },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('answers a NUL byte in a path or confirmation target with a 400 page', async () => {
    for (const path of ['/entities/ENBDTABBY/e%00x', '/actions/confirm?action=repoll&target=t%00x']) {
      const answer = await dashboard.app.request(path, { headers: { cookie } });
      expect(answer.status, path).toBe(400);
    }
  });

  it('answers a NUL byte in an action reason or target with a 400 page and records nothing', async () => {
    const csrf = await dashboard.csrf(cookie);
    for (const fields of [
      { action: 'mark-failed', target: 'no-such-trace', reason: 'why\u0000not' },
      { action: 'repoll', target: 'trace\u0000x' },
    ]) {
      const answer = await dashboard.app.request('/actions', form({ csrf, ...fields }, { cookie }));
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    }
    const [row] = await db.orm.em
      .getConnection()
      .execute<{ n: string }[]>('select count(*) as n from ctp_audit_log');
    expect(Number(row?.n)).toBe(0);
  });
});

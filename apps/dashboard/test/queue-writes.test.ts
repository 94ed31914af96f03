import { appRoutes, buildHistoryRoutes } from '@bull-board/api/dist/routes.js';
import { ConfigError, loadConfig } from '@ctp/core/config';
import { AuditLog } from '@ctp/core/entities';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_WRITES, XSRF_COOKIE } from '../src/queue-writes.ts';
import { buildDashboard, CREDENTIALS, type TestDashboard } from './helpers.ts';

/**
 * Bull Board's writes through HTTP, as its front end sends them (axios: the `XSRF-TOKEN` cookie
 * copied into the `X-XSRF-TOKEN` header). Without the session's token a write is refused and
 * nothing changes; every write the dashboard lets through, or refuses for want of
 * DASHBOARD_QUEUE_ADMIN, leaves its audit row.
 */

const QUEUE = 'ctp-operations';
let db: TestDatabase;
let dashboard: TestDashboard;
let admin: TestDashboard;
let cookie: string;
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dashboard = buildDashboard(db.orm);
  admin = buildDashboard(db.orm, { queueAdmin: true });
  cookie = await dashboard.login();
  token = await dashboard.csrf(cookie);
});

afterAll(async () => {
  await dashboard?.close();
  await admin?.close();
  await db?.drop();
});

/** The token Bull Board's page hands its front end, from the `Set-Cookie` of a page load. */
async function xsrfCookie(board: TestDashboard, session: string): Promise<string> {
  const page = await board.app.request('/queues', { headers: { cookie: session } });
  expect(page.status).toBe(200);
  const header = page.headers.getSetCookie().find((c) => c.startsWith(`${XSRF_COOKIE}=`)) ?? '';
  expect(header).toMatch(/Path=\/queues/);
  expect(header).toMatch(/SameSite=Strict/);
  expect(header).not.toMatch(/HttpOnly/);
  return decodeURIComponent(header.slice(XSRF_COOKIE.length + 1).split(';')[0] ?? '');
}

function write(
  board: TestDashboard,
  method: string,
  path: string,
  options: { xsrf?: string | null; body?: unknown; session?: string } = {},
) {
  const xsrf = options.xsrf === undefined ? token : options.xsrf;
  return board.app.request(`/queues/api${path}`, {
    method,
    headers: {
      cookie: options.session ?? cookie,
      'content-type': 'application/json',
      ...(xsrf === null ? {} : { 'x-xsrf-token': xsrf }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

async function auditRows(action: string): Promise<AuditLog[]> {
  return db.orm.em
    .fork()
    .find(AuditLog, { action: action as AuditLog['action'] }, { orderBy: { pkey: 'asc' } });
}

describe("Bull Board's writes", () => {
  it('cover every write route of the installed @bull-board/api, in its order', () => {
    const installed = [
      ...appRoutes.api,
      ...buildHistoryRoutes({} as never, { hasUsage: true, canPurge: true, hasLatency: true }),
    ]
      .filter((route) => route.method !== 'get')
      .map((route) => `${String(route.method)} ${String(route.route)}`);
    expect(QUEUE_WRITES.map((w) => `${w.method} ${w.route}`)).toEqual(installed);
  });

  it('hand the session token to the front end in a cookie scripts on this site can read', async () => {
    expect(await xsrfCookie(dashboard, cookie)).toBe(token);
  });

  it('are refused without the session token, or with another session’s, and change nothing', async () => {
    const other = await dashboard.csrf(await dashboard.login());
    for (const xsrf of [null, '', 'forged', other]) {
      const answer = await write(dashboard, 'PUT', `/queues/${QUEUE}/pause`, { xsrf });
      expect(answer.status, String(xsrf)).toBe(403);
      expect(await answer.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    }
    expect(await dashboard.queues[QUEUE].isPaused()).toBe(false);
    expect(await auditRows('queue.pause')).toEqual([]);
  });

  it('pause and resume a queue with the token, each on record', async () => {
    expect((await write(dashboard, 'PUT', `/queues/${QUEUE}/pause`)).status).toBe(200);
    expect(await dashboard.queues[QUEUE].isPaused()).toBe(true);
    expect((await write(dashboard, 'PUT', `/queues/${QUEUE}/resume`)).status).toBe(200);
    expect(await dashboard.queues[QUEUE].isPaused()).toBe(false);
    const [paused] = await auditRows('queue.pause');
    expect(paused).toMatchObject({
      actor: CREDENTIALS.username,
      target: `queue:${QUEUE}`,
      details: { result: 'done', queueName: QUEUE, status: 200 },
    });
    expect(await auditRows('queue.resume')).toHaveLength(1);
  });

  it('retry a failed job, on record with its queue and job', async () => {
    const queue = dashboard.queues[QUEUE];
    await queue.add(
      'submit',
      { operationId: 'x', tenant: 'ENBDTABBY' },
      { jobId: 'failing-job', attempts: 1 },
    );
    const failing = new Worker(
      queue.name,
      async () => {
        throw new UnrecoverableError('refused');
      },
      { connection: dashboard.redis, prefix: queue.opts.prefix ?? '' },
    );
    await new Promise<void>((resolve) => failing.once('failed', () => resolve()));
    await failing.close();
    expect((await write(dashboard, 'PUT', `/queues/${QUEUE}/failing-job/retry`)).status).toBe(204);
    expect(await (await queue.getJob('failing-job'))?.getState()).toBe('waiting');
    const [retried] = await auditRows('job.retry');
    expect(retried).toMatchObject({
      target: `job:${QUEUE}/failing-job`,
      details: { result: 'done', queueName: QUEUE, jobId: 'failing-job' },
    });
  });

  it('refuse obliterate and add job unless DASHBOARD_QUEUE_ADMIN, and record the attempt', async () => {
    await dashboard.queues[QUEUE].pause();
    const jobsBefore = await dashboard.queues[QUEUE].count();
    const obliterate = await write(dashboard, 'PUT', `/queues/${QUEUE}/obliterate`, {
      body: { force: true },
    });
    expect(obliterate.status).toBe(403);
    expect(await obliterate.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const add = await write(dashboard, 'POST', `/queues/${QUEUE}/add`, {
      body: { name: 'submit', data: { operationId: 'y' }, options: {} },
    });
    expect(add.status).toBe(403);
    expect(await dashboard.queues[QUEUE].count()).toBe(jobsBefore);
    expect((await dashboard.queues[QUEUE].getJob('failing-job'))?.id).toBe('failing-job');
    expect(await auditRows('queue.obliterate')).toMatchObject([
      { target: `queue:${QUEUE}`, details: { result: 'refused' } },
    ]);
    expect(await auditRows('queue.add_job')).toMatchObject([{ details: { result: 'refused' } }]);
    await dashboard.queues[QUEUE].resume();
  });

  it('let an admin board add a job, and record a write Bull Board refuses as failed', async () => {
    const session = await admin.login();
    const xsrf = await admin.csrf(session);
    const add = await write(admin, 'POST', `/queues/${QUEUE}/add`, {
      session,
      xsrf,
      body: { name: 'probe', data: { note: 'from the board' }, options: {} },
    });
    expect(add.status).toBe(200);
    expect(await admin.queues[QUEUE].count()).toBe(1);
    // Bull Board obliterates only a paused queue: this one is running.
    const obliterate = await write(admin, 'PUT', `/queues/${QUEUE}/obliterate`, { session, xsrf, body: {} });
    expect(obliterate.status).toBe(400);
    expect(await auditRows('queue.add_job')).toMatchObject([
      { details: { result: 'refused' } },
      { details: { result: 'done' } },
    ]);
    const [, failed] = await auditRows('queue.obliterate');
    expect(failed?.details).toMatchObject({ result: 'failed', status: 400 });
    expect(failed?.details.message).toContain('QUEUE_NOT_PAUSED');
  });

  it('record and log a card number typed as a job id only masked', async () => {
    const answer = await write(dashboard, 'PUT', `/queues/${QUEUE}/4111111111111111/retry`);
    expect(answer.status).toBe(404);
    const rows = await db.orm.em
      .fork()
      .find(AuditLog, { action: 'job.retry' }, { orderBy: { pkey: 'desc' } });
    expect(rows[0]).toMatchObject({
      target: `job:${QUEUE}/411111******1111`,
      details: { result: 'failed', jobId: '411111******1111' },
    });
    expect(dashboard.logLines.join('\n')).not.toContain('4111111111111111');
  });

  it('take DASHBOARD_QUEUE_ADMIN as true or false only, off by default', () => {
    expect(loadConfig({}).DASHBOARD_QUEUE_ADMIN).toBe(false);
    expect(loadConfig({ DASHBOARD_QUEUE_ADMIN: 'true' }).DASHBOARD_QUEUE_ADMIN).toBe(true);
    expect(loadConfig({ DASHBOARD_QUEUE_ADMIN: 'false' }).DASHBOARD_QUEUE_ADMIN).toBe(false);
    for (const value of ['yes', '1', 'TRUE', 'on']) {
      expect(() => loadConfig({ DASHBOARD_QUEUE_ADMIN: value }), value).toThrow(ConfigError);
    }
  });

  it('are shown in the audit log page', async () => {
    const html = await (await dashboard.app.request('/audit', { headers: { cookie } })).text();
    for (const action of ['queue.pause', 'job.retry', 'queue.obliterate', 'queue.add_job']) {
      expect(html).toContain(action);
    }
  });
});

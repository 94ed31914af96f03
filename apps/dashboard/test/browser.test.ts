import { AuditLog, CtpOperation } from '@ctp/core/entities';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../../../tests/e2e/src/harness.ts';
import { type Browser, skipWithoutChromium } from './chromium.ts';
import { type BrowserDashboard, CREDENTIALS, startDashboard } from './helpers.ts';

/**
 * An operator's session in a real headless Chromium, over the whole pipeline (api, worker,
 * SaaS simulator) and the dashboard on real HTTP. Webhooks are off and the first poll is an hour
 * away, so a trace stays IN_PROGRESS until the operator acts: the SaaS rejected the first request
 * without telling us, so the operator marks it failed, retries the failed operation, re-polls the
 * new trace, and the entity ends ACTIVE.
 */

let pipeline: Pipeline;
let dashboard: BrowserDashboard;
let browser: Browser;
let page: Page;
let base: string;

const ENTITY = `browser-${Date.now().toString(36)}`;
const KIT = `${ENTITY}-k1`;

beforeAll(async () => {
  pipeline = await startPipeline({ webhooks: false, env: { TRACE_FIRST_POLL_MS: '3600000' } });
  dashboard = await startDashboard(pipeline.db.orm, {
    redisUrl: pipeline.config.REDIS_URL,
    prefix: pipeline.config.QUEUE_PREFIX,
  });
  ({ browser, page, base } = dashboard);
});

afterAll(async () => {
  await dashboard?.close();
  await pipeline?.close();
});

const shot = (name: string) => dashboard.shot(name);
const see = (selector: string, text: string) => dashboard.see(selector, text);

async function operationsOf(entityId: string): Promise<CtpOperation[]> {
  return pipeline.db.orm.em.fork().find(CtpOperation, { entityId }, { orderBy: { createdAt: 'asc' } });
}

async function waitFor<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function confirmAction(linkText: string, reason: string): Promise<void> {
  await page.getByRole('link', { name: linkText }).first().click();
  await page.getByLabel(/Reason/).fill(reason);
  await page.getByRole('button', { name: /^Confirm/ }).click();
  await page.waitForSelector('.notice');
}

describe.skipIf(skipWithoutChromium)('the dashboard in Chromium', () => {
  it('refuses a wrong password', async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill(CREDENTIALS.username);
    await page.getByLabel('Password').fill('not-the-password');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(answer.status()).toBe(401);
    expect(await page.getByRole('alert').textContent()).toBe('Wrong username or password.');
    expect(await browser.context.cookies()).toEqual([]);
    await shot('01-login-refused');
  });

  it('signs in and shows every queue in Bull Board', async () => {
    await page.getByLabel('Username').fill(CREDENTIALS.username);
    await page.getByLabel('Password').fill(CREDENTIALS.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const [cookie] = await browser.context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await shot('02-overview');

    await page.goto(`${base}/queues`);
    for (const queue of Object.keys(dashboard.queues)) {
      await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
    }
    await page.getByText('ctp-operations', { exact: true }).first().click();
    await page.waitForURL(/\/queues\/queue\/ctp-operations/);
    await page
      .getByText(/failed/i)
      .first()
      .waitFor({ timeout: 15_000 });
    await shot('03-bull-board');
  });

  it('finds an entity enrolled during the test, marks its hopeless trace failed and retries it', async () => {
    // The SaaS rejects this first request, and nobody tells us: no webhook, no poll for an hour.
    pipeline.sim.simulator.setFaults({ rejectionRate: 1 });
    await pipeline.customer(ENTITY, [KIT]);
    const accepted = await pipeline.call('POST', `/v1/ctp/entities/${ENTITY}/registration`, { kitNo: KIT });
    expect(accepted.status).toBe(202);
    const first = String(accepted.body.operationId);
    await waitFor(
      async () => ((await operationsOf(ENTITY))[0]?.status === 'IN_PROGRESS' ? true : undefined),
      'the registration to reach the SaaS',
    );
    await pipeline.sim.simulator.idle();
    pipeline.sim.simulator.setFaults({ rejectionRate: 0 });

    await page.goto(`${base}/`);
    await page.getByRole('link', { name: ENTITY }).first().waitFor();
    await page.getByRole('searchbox').fill(KIT);
    await page.getByRole('searchbox').press('Enter');
    await page.waitForURL(/\/entities\/ENBDTABBY\//);
    await page.getByRole('heading', { name: `Entity ${ENTITY}` }).waitFor();
    await see(`tr[data-operation-id="${first}"]`, 'IN_PROGRESS');
    await shot('04-entity-in-progress');

    await confirmAction('Mark failed', 'the SaaS lost this request');
    await see('.notice', 'done');
    const [failed] = await operationsOf(ENTITY);
    expect(failed).toMatchObject({ status: 'FAILED', errorCode: 'MARKED_FAILED' });
    await see(`tr[data-operation-id="${first}"]`, 'MARKED_FAILED');
    await shot('05-marked-failed');

    await confirmAction('Retry', 'try again after the SaaS incident');
    await see('.notice', 'started operation');
    const second = await waitFor(async () => {
      const ops = await operationsOf(ENTITY);
      return ops[1]?.status === 'IN_PROGRESS' ? ops[1] : undefined;
    }, 'the retried operation to reach the SaaS');
    await shot('06-retried');

    await page.reload();
    await confirmAction('Re-poll now', '');
    const settled = await pipeline.settled(second.id, 10_000);
    expect(settled.status).toBe('SUCCESS');
    await page.reload();
    await see(`tr[data-operation-id="${second.id}"]`, 'SUCCESS');
    await see('section:has(h2:text-is("Kits")) td', 'ACTIVE');
    await shot('07-resolved-by-repoll');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const rows = await page.locator('tbody tr').allInnerTexts();
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain('trace.repoll');
    expect(rows[1]).toContain('operation.retry');
    expect(rows[2]).toContain('trace.mark_failed');
    for (const row of rows) expect(row).toContain(CREDENTIALS.username);
    await shot('08-audit-log');

    await page.getByRole('link', { name: 'Overview' }).click();
    await see('section', '1 failed');
    await shot('09-overview-after');
  });

  it("pauses and resumes a queue from Bull Board's own menu (its token rides along), each write on record", async () => {
    const queue = 'ctp-resolutions';
    await page.goto(`${base}/queues/queue/${queue}`);
    const menuAction = async (item: 'Pause' | 'Resume') => {
      await page.locator('button[aria-haspopup="menu"]').last().click();
      await page.getByRole('menuitem', { name: item }).click();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(`/queues/api/queues/${queue}/${item.toLowerCase()}`)),
        page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click(),
      ]);
      return answer;
    };
    const paused = await menuAction('Pause');
    expect(paused.status()).toBe(200);
    expect(paused.request().headers()['x-xsrf-token']).toMatch(/^[\w-]{43}$/);
    expect(await dashboard.queues[queue].isPaused()).toBe(true);
    await see('nav, aside, body', 'Paused');
    await shot('10-bull-board-paused');

    // A script on the page that does not send the token is refused, and nothing changes.
    const forged = await page.evaluate(
      async (url) => (await fetch(url, { method: 'PUT' })).status,
      `${base}/queues/api/queues/${queue}/resume`,
    );
    expect(forged).toBe(403);
    expect(await dashboard.queues[queue].isPaused()).toBe(true);

    expect((await menuAction('Resume')).status()).toBe(200);
    expect(await dashboard.queues[queue].isPaused()).toBe(false);
    const rows = await pipeline.db.orm.em
      .fork()
      .find(AuditLog, { target: `queue:${queue}` }, { orderBy: { pkey: 'asc' } });
    expect(rows.map((row) => [row.action, row.actor, row.details.result])).toEqual([
      ['queue.pause', CREDENTIALS.username, 'done'],
      ['queue.resume', CREDENTIALS.username, 'done'],
    ]);
  });
  it("edits a tenant's CTP settings from the navigation; the api applies them at once; the edit is on record", async () => {
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'CTP settings' }).click();
    await page.getByRole('heading', { name: 'CTP settings' }).waitFor();
    await page.getByRole('link', { name: 'ENBDTABBY' }).click();
    await page.getByLabel('Mode').selectOption('OFF');
    await page.getByLabel(/Eligible BINs/).fill('411111\n55555544');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await see('.notice', 'Saved');
    await shot('11-tenant-settings');

    await pipeline.customer('browser-settings', ['browser-settings-k']);
    const refused = await pipeline.call('POST', '/v1/ctp/entities/browser-settings/registration', {
      kitNo: 'browser-settings-k',
    });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'CTP_NOT_ENABLED' } });
    const [row] = await pipeline.db.orm.em.fork().find(AuditLog, { action: 'settings.update' });
    expect(row?.actor).toBe(CREDENTIALS.username);
    expect(JSON.parse(String(row?.details.after))).toMatchObject({
      mode: 'OFF',
      eligibleBins: ['411111', '55555544'],
    });

    // Back to ALL from the page: the same registration is accepted.
    await page.getByLabel('Mode').selectOption('ALL');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await see('.notice', 'Saved');
    const accepted = await pipeline.call('POST', '/v1/ctp/entities/browser-settings/registration', {
      kitNo: 'browser-settings-k',
    });
    expect(accepted.status).toBe(202);
  });
});

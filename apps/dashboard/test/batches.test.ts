import { getBatch, listBatchItems } from '@ctp/core/batches';
import { AuditLog } from '@ctp/core/entities';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_COUNTS, seedBatch, submitItems } from './batch-fixture.ts';
import { buildDashboard, CREDENTIALS, type TestDashboard } from './helpers.ts';

/**
 * The Batches pages over a real database: what they show, and what they refuse (another tenant's
 * batch, an unknown one, a cancel without the session's token, a query the api would refuse).
 */

const TENANT = 'ENBDTABBY';
const OTHER = 'DEMOBANK';
let db: TestDatabase;
let dashboard: TestDashboard;
let cookie: string;
let csrf: string;
let mine: string;
let theirs: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ({ batchId: mine } = await seedBatch(db.orm, TENANT, 'pb'));
  ({ batchId: theirs } = await seedBatch(db.orm, OTHER, 'ob'));
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
const batchPath = (tenant: string, id: string) => `/batches/${tenant}/${id}`;

/** The numbers of a batch's row, by the count each cell carries. */
function countsIn(page: string, batchId: string): Record<string, number> {
  const row = new RegExp(`<tr data-batch-id="${batchId}"[\\s\\S]*?</tr>`).exec(page)?.[0] ?? '';
  return Object.fromEntries(
    [...row.matchAll(/data-count="(\w+)">(\d+)</g)].map(([, name, n]) => [name, Number(n)]),
  );
}

describe('the Batches pages', () => {
  it('are linked from the navigation, and list each tenant that has batches', async () => {
    const answer = await get('/batches');
    expect(answer.status).toBe(200);
    // The console's policy holds here too: no script runs, no other site frames or receives forms.
    expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await answer.text();
    expect(page).toContain('<a href="/batches">Batches</a>');
    expect(page).toContain(`href="/batches/${TENANT}"`);
    expect(page).toContain(`href="/batches/${OTHER}"`);
  });

  it("list a tenant's batches with every count, progress and pace; not another tenant's", async () => {
    const page = await (await get(`/batches/${TENANT}`)).text();
    expect(countsIn(page, mine)).toEqual(FIXTURE_COUNTS);
    expect(page).toContain('pb-portfolio');
    expect(page).toMatch(/<progress[^>]*value="4" max="8"/);
    expect(page).toContain('RUNNING');
    expect(page).toContain('over the last 60 s');
    // One item ran to an end (FAILED) moments ago: the open items have an ETA at that pace.
    const row = new RegExp(`<tr data-batch-id="${mine}"[\\s\\S]*?</tr>`).exec(page)?.[0] ?? '';
    expect(row).toMatch(/data-rate>\d+(\.\d+)?\/s</);
    expect(row).toMatch(/data-eta>\d+[smh]/);
    expect(page).not.toContain(theirs);
  });

  it('show a batch: counts, failures by status and reason, its items by status, a cancel link', async () => {
    const page = await (await get(batchPath(TENANT, mine))).text();
    expect(countsIn(page, mine)).toEqual(FIXTURE_COUNTS);
    const failures = /<section class="card" id="failures">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    const groups = [...failures.matchAll(/<tr data-failure="(\w+) (\w+)"[\s\S]*?>(\d+)<\/a>/g)].map(
      ([, status, reason, n]) => [status, reason, Number(n)],
    );
    expect(groups).toEqual([
      ['REJECTED', 'ENTITY_NOT_FOUND', 2],
      ['FAILED', 'CARD_NOT_ACTIVE', 1],
      ['REJECTED', 'LUHN_FAILED', 1],
    ]);
    expect(page).toContain(`href="${batchPath(TENANT, mine)}/cancel"`);
    // A refused card number is never shown whole.
    expect(page).not.toContain('4111111111111112');

    const rejected = await (await get(`${batchPath(TENANT, mine)}?status=REJECTED`)).text();
    expect(rejected.match(/<tr data-seq=/g)).toHaveLength(3);
    const paged = await (await get(`${batchPath(TENANT, mine)}?status=REJECTED&limit=2`)).text();
    expect(paged.match(/<tr data-seq=/g)).toHaveLength(2);
    const next = /href="([^"]*cursor=\d+[^"]*)"/.exec(paged)?.[1]?.replaceAll('&amp;', '&');
    expect(next).toBeDefined();
    const rest = await (await get(String(next))).text();
    expect(rest.match(/<tr data-seq=/g)).toHaveLength(1);
  });

  it("answer 404 for an unknown batch, a malformed id and another tenant's batch", async () => {
    for (const path of [
      batchPath(TENANT, '00000000-0000-4000-8000-000000000000'),
      batchPath(TENANT, 'not-a-batch'),
      batchPath(TENANT, theirs),
      `${batchPath(TENANT, theirs)}/cancel`,
    ]) {
      const answer = await get(path);
      expect(answer.status, path).toBe(404);
      expect(await answer.text()).toContain('No such batch');
    }
    const refused = await post(`${batchPath(TENANT, theirs)}/cancel`, { csrf });
    expect(refused.status).toBe(404);
    expect((await getBatch(db.orm.em, OTHER, theirs)).status).toBe('RUNNING');
  });

  it('refuse a bad status, a bad cursor and a NUL byte with 400', async () => {
    for (const query of [
      '?status=DONE',
      '?status=',
      '?cursor=abc',
      '?cursor=-1',
      '?limit=100000',
      '?status=PENDING%00',
    ]) {
      const answer = await get(`${batchPath(TENANT, mine)}${query}`);
      expect(answer.status, query).toBe(400);
    }
    for (const query of ['?cursor=not-a-cursor', `?cursor=${Buffer.from('1|x').toString('base64url')}`]) {
      expect((await get(`/batches/${TENANT}${query}`)).status, query).toBe(400);
    }
    const nulInPath = await get(`/batches/${TENANT}%00`);
    expect(nulInPath.status).toBe(400);
  });

  it('refuse a cancel without the session token, and change nothing', async () => {
    for (const fields of [{}, { csrf: 'forged' }]) {
      const answer = await post(`${batchPath(TENANT, mine)}/cancel`, fields);
      expect(answer.status).toBe(403);
    }
    const withNul = await post(`${batchPath(TENANT, mine)}/cancel`, { csrf, reason: 'a\u0000b' });
    expect(withNul.status).toBe(400);
    expect((await getBatch(db.orm.em, TENANT, mine)).counts).toEqual(FIXTURE_COUNTS);
    expect(await db.orm.em.fork().count(AuditLog, { action: 'batch.cancel' })).toBe(0);
  });

  it('cancel after a confirmation page: pending items CANCELLED, audited with the operator; twice is harmless', async () => {
    const confirm = await (await get(`${batchPath(TENANT, mine)}/cancel`)).text();
    expect(confirm).toContain(`action="${batchPath(TENANT, mine)}/cancel"`);
    expect(confirm).toContain('2 items not started yet');

    const answer = await post(`${batchPath(TENANT, mine)}/cancel`, { csrf, reason: 'wrong file' });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(`${batchPath(TENANT, mine)}?cancelled=2`);
    const batch = await getBatch(db.orm.em, TENANT, mine);
    expect(batch.status).toBe('CANCELLED');
    expect(batch.counts).toMatchObject({ pending: 0, cancelled: 2, inProgress: 2 });
    const items = await listBatchItems(db.orm.em, TENANT, mine, { status: 'CANCELLED', limit: 10 });
    expect(items.items).toHaveLength(2);
    const audit = await db.orm.em.fork().find(AuditLog, { action: 'batch.cancel' });
    expect(audit.map((row) => [row.actor, row.target, row.tenant, row.details.cancelledItems])).toEqual([
      [CREDENTIALS.username, mine, TENANT, 2],
    ]);
    expect(audit[0]?.details.reason).toBe('wrong file');

    const shown = await (await get(`${batchPath(TENANT, mine)}?cancelled=2`)).text();
    expect(shown).toContain('2 items cancelled');
    expect(shown).not.toContain(`href="${batchPath(TENANT, mine)}/cancel"`);
    // Its 2 started items still finish: the page keeps refreshing until the batch has ended.
    expect(shown).toContain('http-equiv="refresh"');

    const again = await post(`${batchPath(TENANT, mine)}/cancel`, { csrf });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`${batchPath(TENANT, mine)}?cancelled=0`);
    expect(await db.orm.em.fork().count(AuditLog, { action: 'batch.cancel' })).toBe(1);
    const blocked = await (await get(`${batchPath(TENANT, mine)}/cancel`)).text();
    expect(blocked).toContain('The batch is CANCELLED');
    expect(blocked).not.toContain('<form class="confirm"');
  });

  it("show a refused item's outside text escaped", async () => {
    // The unknown key comes back in the item's error (zod names it): text the client wrote.
    const hostile = await submitItems(db.orm, TENANT, [
      { entityId: 'pb-h', kitNo: 'k', '<img src=x onerror=alert(1)>': 1 },
    ]);
    const page = await (await get(`${batchPath(TENANT, hostile)}?status=REJECTED`)).text();
    expect(page).toContain('INVALID_ITEM');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain('<img');
  });

  it('refresh a running batch by itself', async () => {
    const page = await (await get(batchPath(OTHER, theirs))).text();
    expect(page).toMatch(/<meta http-equiv="refresh" content="\d+">/);
  });
});

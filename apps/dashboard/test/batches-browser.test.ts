import { listBatchItems } from '@ctp/core/batches';
import { AuditLog } from '@ctp/core/entities';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_COUNTS, feedItems, seedBatch, seedCustomer, submitItems } from './batch-fixture.ts';
import { skipWithoutChromium } from './chromium.ts';
import { type BrowserDashboard, CREDENTIALS, startDashboard } from './helpers.ts';

/**
 * An operator follows a tenant's portfolio batch in a real headless Chromium, over a real
 * database: the batch as the api accepted it and the worker's feeder started it (no worker
 * carries its operations on, so nothing moves unless the test moves it). The operator finds it
 * from the navigation, reads its counts, progress and failures by reason, opens the rejected
 * items, and cancels it after the confirmation page; the pending items end CANCELLED and the
 * cancel is on record with the operator's name. A running batch's page refreshes by itself.
 */

const TENANT = 'ENBDTABBY';
let db: TestDatabase;
let dashboard: BrowserDashboard;
let page: Page;
let batchId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ({ batchId } = await seedBatch(db.orm, TENANT, 'br'));
  dashboard = await startDashboard(db.orm);
  ({ page } = dashboard);
});

afterAll(async () => {
  await dashboard?.close();
  await db?.drop();
});

/** The counts a batch's row shows, or null while the page is (re)loading. */
async function countsShown(id: string): Promise<Record<string, number> | null> {
  try {
    const cells = await page
      .locator(`tr[data-batch-id="${id}"] td[data-count]`)
      .evaluateAll((tds) => tds.map((td) => [td.getAttribute('data-count'), Number(td.textContent)]));
    return cells.length === 0 ? null : Object.fromEntries(cells);
  } catch {
    return null;
  }
}

describe.skipIf(skipWithoutChromium)('batches on the dashboard', () => {
  it("shows a tenant's batch with its counts, progress and failures by reason", async () => {
    await dashboard.signIn();
    await page.getByRole('link', { name: 'Batches', exact: true }).click();
    await page.getByRole('heading', { name: 'Batches' }).waitFor();
    await page.locator(`tr[data-tenant="${TENANT}"]`).getByRole('link').click();
    await page.getByRole('heading', { name: `Batches of ${TENANT}` }).waitFor();
    await expect.poll(() => countsShown(batchId)).toEqual(FIXTURE_COUNTS);
    const row = page.locator(`tr[data-batch-id="${batchId}"]`);
    expect(await row.locator('progress').getAttribute('aria-label')).toBe('4 of 8 items finished');
    await dashboard.see(`tr[data-batch-id="${batchId}"]`, 'br-portfolio');
    await dashboard.see(`tr[data-batch-id="${batchId}"]`, 'RUNNING');
    await dashboard.shot('batches-01-list');

    await row.getByRole('link').first().click();
    await page.getByRole('heading', { name: `Batch ${batchId}` }).waitFor();
    const failures = await page.locator('#failures tbody tr').allInnerTexts();
    expect(failures.map((text) => text.split(/\s+/).filter(Boolean))).toEqual([
      ['REJECTED', 'ENTITY_NOT_FOUND', '2'],
      ['FAILED', 'CARD_NOT_ACTIVE', '1'],
      ['REJECTED', 'LUHN_FAILED', '1'],
    ]);
    await dashboard.shot('batches-02-batch');

    await page.locator('#failures tr[data-failure="REJECTED ENTITY_NOT_FOUND"]').getByRole('link').click();
    await page.getByRole('heading', { name: 'Items REJECTED' }).waitFor();
    const items = await page.locator('#items tbody tr').allInnerTexts();
    expect(items).toHaveLength(3);
    expect(items.join('\n')).toContain('br-nobody1');
    expect(items.join('\n')).toContain('LUHN_FAILED');
    expect(items.join('\n')).not.toContain('4111111111111112');
  });

  it('cancels after a confirmation: pending items CANCELLED, the cancel audited with the operator', async () => {
    await page.getByRole('link', { name: 'Cancel batch' }).click();
    await page.getByRole('heading', { name: 'Cancel the batch' }).waitFor();
    await dashboard.see('section', '2 items not started yet become CANCELLED');
    // Nothing has changed yet: the confirmation page only asks.
    expect(
      (await listBatchItems(db.orm.em, TENANT, batchId, { status: 'PENDING', limit: 10 })).items,
    ).toHaveLength(2);
    await page.getByLabel(/Reason/).fill('the bank sent the wrong file');
    await dashboard.shot('batches-03-confirm');
    await page.getByRole('button', { name: 'Confirm: Cancel the batch' }).click();

    await dashboard.see('.notice', '2 items cancelled');
    await expect.poll(() => countsShown(batchId)).toEqual({ ...FIXTURE_COUNTS, pending: 0, cancelled: 2 });
    await dashboard.see(`tr[data-batch-id="${batchId}"]`, 'CANCELLED');
    expect(await page.getByRole('link', { name: 'Cancel batch' }).count()).toBe(0);
    await dashboard.shot('batches-04-cancelled');

    const cancelled = await listBatchItems(db.orm.em, TENANT, batchId, { status: 'CANCELLED', limit: 10 });
    expect(cancelled.items.map((item) => item.kitNo).sort()).toEqual(['br-a2', 'br-a3']);
    const audit = await db.orm.em.fork().find(AuditLog, { action: 'batch.cancel' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: CREDENTIALS.username, target: batchId, tenant: TENANT });
    expect(audit[0]?.details).toMatchObject({ cancelledItems: 2, reason: 'the bank sent the wrong file' });

    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await dashboard.see('tbody tr', 'batch.cancel');
  });

  it("updates a running batch's counts by itself", async () => {
    await seedCustomer(db.orm, TENANT, 'br-live', ['br-live1']);
    const live = await submitItems(db.orm, TENANT, [{ entityId: 'br-live', kitNo: 'br-live1' }]);
    await page.goto(`${dashboard.base}/batches/${TENANT}/${live}`);
    await expect.poll(() => countsShown(live)).toMatchObject({ pending: 1, inProgress: 0 });
    // The worker's feeder starts the item; the open page shows it without anyone reloading it.
    await feedItems(db.orm);
    await expect
      .poll(() => countsShown(live), { timeout: 15_000 })
      .toMatchObject({ pending: 0, inProgress: 1 });
  });
});

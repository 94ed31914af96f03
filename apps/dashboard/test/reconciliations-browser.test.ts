import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, TENANT } from '../../../tests/e2e/src/harness.ts';
import { skipWithoutChromium } from './chromium.ts';
import { type BrowserDashboard, startDashboard } from './helpers.ts';

/**
 * An operator looks at reconciliations in a real headless Chromium, over the whole pipeline: the
 * network disabled a card and told nobody; a dry run found it; the page lists the run and its
 * drift, then the repair.
 */

let pipeline: Pipeline;
let dashboard: BrowserDashboard;
let page: Page;
let base: string;

beforeAll(async () => {
  pipeline = await startPipeline({ env: { RECONCILE_TICK_MS: '200' } });
  dashboard = await startDashboard(pipeline.db.orm, {
    redisUrl: pipeline.config.REDIS_URL,
    prefix: pipeline.config.QUEUE_PREFIX,
  });
  ({ page, base } = dashboard);
});

afterAll(async () => {
  await dashboard?.close();
  await pipeline?.close();
});

const shot = (name: string) => dashboard.shot(name);

async function completed(body: unknown): Promise<string> {
  const accepted = await pipeline.call('POST', '/v1/ctp/reconciliations', body);
  expect(accepted.status).toBe(202);
  const id = String(accepted.body.reconciliationId);
  const deadline = Date.now() + 15_000;
  while ((await pipeline.call('GET', `/v1/ctp/reconciliations/${id}`)).body.status !== 'COMPLETED') {
    if (Date.now() > deadline) throw new Error('the reconciliation did not complete');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return id;
}

describe.skipIf(skipWithoutChromium)('reconciliations on the dashboard', () => {
  it('lists reconciliations and shows the drifts each found, dry run and repair', async () => {
    await pipeline.customer('browser-rec', ['browser-rec-k']);
    const accepted = await pipeline.call('POST', '/v1/ctp/entities/browser-rec/registration', {
      kitNo: 'browser-rec-k',
    });
    expect((await pipeline.settled(String(accepted.body.operationId))).status).toBe('SUCCESS');
    pipeline.sim.simulator.setFaults({ webhookDropRate: 1 });
    pipeline.sim.simulator.setInstrumentStatus(TENANT, 'browser-rec', 'browser-rec-k', 'DISABLED');
    pipeline.sim.simulator.setFaults({ webhookDropRate: 0 });
    const dry = await completed({ entityIds: ['browser-rec'], dryRun: true });

    await dashboard.signIn();
    await page.getByRole('link', { name: 'Reconciliations' }).click();
    await page.getByRole('heading', { name: 'Reconciliations' }).waitFor();
    const row = page.locator(`tr[data-reconciliation-id="${dry}"]`);
    expect(await row.textContent()).toMatch(/DRY RUN[\s\S]*ENBDTABBY[\s\S]*REQUEST[\s\S]*completed/);
    await shot('reconciliations-01-list');

    await row.getByRole('link').click();
    await page.getByRole('heading', { name: `Reconciliation ${dry}` }).waitFor();
    const drift = await page.locator('section:has(h2:text-is("Drifts")) tbody tr').allInnerTexts();
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatch(/browser-rec\s+browser-rec-k\s+ctpKitStatus\s+ACTIVE\s+DISABLED\s+WOULD_REPAIR/);
    expect(await page.getByText('dry run (nothing changed)').count()).toBe(1);
    await shot('reconciliations-02-dry-run');

    const repair = await completed({ entityIds: ['browser-rec'] });
    await page.getByRole('link', { name: 'Reconciliations' }).click();
    await page.locator(`tr[data-reconciliation-id="${repair}"]`).getByRole('link').click();
    await page.locator('td', { hasText: 'REPAIRED' }).first().waitFor();
    // From the drift to the entity: the kit is DISABLED now, as the network says.
    await page.getByRole('link', { name: 'browser-rec' }).first().click();
    await page.getByRole('heading', { name: 'Entity browser-rec' }).waitFor();
    await page.locator('section:has(h2:text-is("Kits")) td', { hasText: 'DISABLED' }).first().waitFor();
    await shot('reconciliations-03-repaired');

    expect((await page.goto(`${base}/reconciliations/not-a-run`))?.status()).toBe(404);
  });
});

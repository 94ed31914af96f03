import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The dashboard's launcher: Debian's Chromium through playwright-core, nothing downloaded.
import { type Browser, chromiumAvailable, launchChromium } from '../../dashboard/test/chromium.ts';
import { startTestApi, type TestApi } from './helpers.ts';

let api: TestApi;
let browser: Browser | undefined;

beforeAll(async () => {
  api = await startTestApi();
  if (chromiumAvailable) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
});

// As the dashboard's browser test: CI installs Chromium, so there a missing one is a failure.
describe.skipIf(!chromiumAvailable && process.env.CI === undefined)('/docs in Chromium', () => {
  it('shows every operation of /openapi.json, loading nothing from another origin and breaking no CSP rule', async () => {
    const context = browser?.context;
    if (context === undefined) throw new Error('no Chromium at CHROMIUM_PATH');
    const page = await context.newPage();
    const requested: string[] = [];
    const complaints: string[] = [];
    page.on('request', (request) => void requested.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') complaints.push(message.text());
    });
    page.on('pageerror', (error) => void complaints.push(error.message));

    const document = (await api.call('GET', '/openapi.json', { as: null })).body as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const operationIds = Object.values(document.paths).flatMap((path) =>
      Object.values(path).map((operation) => operation.operationId),
    );
    await page.goto(`${api.baseUrl}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('.opblock').count()).toBe(operationIds.length);
    await page.locator('.info .title', { hasText: 'CTP lifecycle service API' }).waitFor();
    // Opened, an operation draws its parameters, schemas and examples too.
    await page.locator('.opblock-summary').first().click();
    await page.locator('.opblock-body').first().waitFor();

    expect(complaints).toEqual([]);
    expect(requested.length).toBeGreaterThan(0);
    for (const url of requested) {
      if (url.startsWith('data:')) continue;
      expect(new URL(url).origin, url).toBe(api.baseUrl);
    }
    await page.close();
  });
});

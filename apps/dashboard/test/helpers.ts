import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createLogger } from '@ctp/core/logging';
import { createRedis } from '@ctp/core/queues';
import { startHttpServer } from '@ctp/core/runtime';
import type { Orm } from '@ctp/db';
import { keepTestLog } from '@ctp/db/testing';
import type { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { createDashboardApp, type DashboardDependencies } from '../src/app.ts';
import { closeQueues, openQueues, type Queues } from '../src/queues.ts';
import { ARTIFACTS, type Browser, launchChromium } from './chromium.ts';

export const CREDENTIALS = { username: 'operator', password: 'a-test-password-0123' } as const;

export interface TestDashboard {
  readonly app: ReturnType<typeof createDashboardApp>;
  readonly queues: Queues;
  readonly redis: Redis;
  readonly logLines: string[];
  /** Signs in through the form; returns the `Cookie` header value of the session. */
  login(): Promise<string>;
  /** The CSRF token the console's forms carry for that session. */
  csrf(cookie: string): Promise<string>;
  close(): Promise<void>;
}

export interface DashboardOptions extends Partial<DashboardDependencies> {
  /**
   * The queues' Redis key prefix, when the dashboard looks at a pipeline's queues (their keys stay
   * theirs); a prefix of its own, removed on close, when absent.
   */
  readonly prefix?: string;
  /** Where Redis is: `REDIS_URL`, or the local one, when absent. */
  readonly redisUrl?: string;
}

/** The dashboard over a test database and a Redis key prefix of its own (no HTTP server). */
export function buildDashboard(orm: Orm, options: DashboardOptions = {}): TestDashboard {
  const { prefix: sharedPrefix, redisUrl, ...dependencies } = options;
  const redis = createRedis(redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = sharedPrefix ?? `{dash-${randomBytes(4).toString('hex')}}`;
  const queues = openQueues(redis, prefix);
  const logLines: string[] = [];
  const logger = createLogger({ name: 'dashboard', destination: { write: (l) => void logLines.push(l) } });
  const app = createDashboardApp({ orm, queues, credentials: CREDENTIALS, logger, ...dependencies });
  const login = async () => {
    const answer = await app.request('/login', {
      method: 'POST',
      body: new URLSearchParams(CREDENTIALS),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const cookie = answer.headers.get('set-cookie')?.split(';')[0];
    if (answer.status !== 303 || cookie === undefined) throw new Error(`login answered ${answer.status}`);
    return cookie;
  };
  return {
    app,
    queues,
    redis,
    logLines,
    login,
    async csrf(cookie) {
      const page = await (await app.request('/audit', { headers: { cookie } })).text();
      const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
      if (token === undefined) throw new Error('no CSRF token on the page');
      return token;
    },
    async close() {
      await closeQueues(queues);
      if (sharedPrefix === undefined) {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      }
      await redis.quit();
      await keepTestLog('dashboard', logLines);
    },
  };
}

export interface BrowserDashboard extends TestDashboard {
  /** The dashboard's address on real HTTP, like `http://127.0.0.1:43121`. */
  readonly base: string;
  readonly browser: Browser;
  /** A page of a headless Chromium with a fresh profile. */
  readonly page: Page;
  /** A full-page screenshot into the test artifacts (`test-results/<name>.png`). */
  shot(name: string): Promise<void>;
  /** Signs in through the login form the dashboard sends an unsigned visitor to. */
  signIn(): Promise<void>;
  /** Waits until an element matching `selector` shows `text` (the page may still be loading). */
  see(selector: string, text: string): Promise<void>;
}

/**
 * The dashboard on a real HTTP server with a headless Chromium to drive it: what each
 * real-browser test starts with. `close` stops the browser, then the server, then the dashboard.
 */
export async function startDashboard(orm: Orm, options: DashboardOptions = {}): Promise<BrowserDashboard> {
  const dashboard = buildDashboard(orm, options);
  const server = await startHttpServer(dashboard.app, {
    port: 0,
    hostname: '127.0.0.1',
    logger: createLogger({ name: 'dashboard-http', level: 'silent' }),
  });
  const base = `http://127.0.0.1:${server.port}`;
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const opened = browser;
    return {
      ...dashboard,
      base,
      browser: opened,
      page,
      async shot(name) {
        await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
      },
      async signIn() {
        await page.goto(`${base}/`);
        await page.waitForURL(/\/login/);
        await page.getByLabel('Username').fill(CREDENTIALS.username);
        await page.getByLabel('Password').fill(CREDENTIALS.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${base}/`);
      },
      async see(selector, text) {
        await page.locator(selector, { hasText: text }).first().waitFor({ timeout: 10_000 });
      },
      async close() {
        await opened.close();
        await server.close();
        await dashboard.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await server.close();
    await dashboard.close();
    throw error;
  }
}

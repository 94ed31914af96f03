import { randomBytes } from 'node:crypto';
import { createLogger } from '@ctp/core/logging';
import { createRedis } from '@ctp/core/queues';
import type { Orm } from '@ctp/db';
import { keepTestLog } from '@ctp/db/testing';
import type { Redis } from 'ioredis';
import { createDashboardApp, type DashboardDependencies } from '../src/app.ts';
import { closeQueues, openQueues, type Queues } from '../src/queues.ts';

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

/** The dashboard over a test database and a Redis key prefix of its own (no HTTP server). */
export function buildDashboard(
  orm: Orm,
  options: { prefix?: string } & Partial<DashboardDependencies> = {},
): TestDashboard {
  const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = options.prefix ?? `{dash-${randomBytes(4).toString('hex')}}`;
  const queues = openQueues(redis, prefix);
  const logLines: string[] = [];
  const logger = createLogger({ name: 'dashboard', destination: { write: (l) => void logLines.push(l) } });
  const app = createDashboardApp({ orm, queues, credentials: CREDENTIALS, logger, ...options });
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
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await keepTestLog('dashboard', logLines);
    },
  };
}

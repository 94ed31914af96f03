import { Hono } from 'hono';

export type ReadinessCheck = {
  readonly name: string;
  readonly check: () => Promise<void>;
  /**
   * False for a dependency the process can work without for a while: it is reported, but does
   * not take the process out of rotation (the api accepts work into PostgreSQL's outbox while
   * Redis is down; the dashboard is most needed exactly when something is down). Default true.
   */
  readonly critical?: boolean;
};

/** A probe that hangs (Redis reconnecting with commands queued) answers "not ready", not never. */
const CHECK_TIMEOUT_MS = 2_000;

/**
 * `/healthz` says the process is alive (no dependency is touched, so a slow database does not
 * get a healthy process restarted). `/readyz` says it can do its work: 503 as soon as one
 * critical dependency fails, naming it.
 */
export function healthRoutes(checks: readonly ReadinessCheck[], timeoutMs = CHECK_TIMEOUT_MS): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const results = await Promise.all(
      checks.map(async ({ name, check, critical = true }) => {
        try {
          await withTimeout(check(), timeoutMs);
          return { name, ok: true as const, ...(critical ? {} : { critical }) };
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          return { name, ok: false as const, ...(critical ? {} : { critical }), error: message };
        }
      }),
    );
    const ready = results.every((r) => r.ok || r.critical === false);
    return c.json({ status: ready ? 'ready' : 'not_ready', checks: results }, ready ? 200 : 503);
  });
  return app;
}

/** A readiness check that Redis answers `PING`. */
export function redisReadinessCheck(
  redis: { ping(): Promise<string> },
  options: { critical?: boolean } = {},
): ReadinessCheck {
  return {
    name: 'redis',
    ...(options.critical === undefined ? {} : { critical: options.critical }),
    check: async () => {
      if ((await redis.ping()) !== 'PONG') throw new Error('Redis did not answer PONG');
    },
  };
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

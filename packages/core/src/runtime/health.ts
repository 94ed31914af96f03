import { Hono } from 'hono';

export type ReadinessCheck = { readonly name: string; readonly check: () => Promise<void> };

/**
 * `/healthz` says the process is alive (no dependency is touched, so a slow database does not
 * get a healthy process restarted). `/readyz` says it can do its work: 503 as soon as one
 * critical dependency fails, naming it.
 */
export function healthRoutes(checks: readonly ReadinessCheck[]): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          await check();
          return { name, ok: true as const };
        } catch (error) {
          return { name, ok: false as const, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    return c.json({ status: ready ? 'ready' : 'not_ready', checks: results }, ready ? 200 : 503);
  });
  return app;
}

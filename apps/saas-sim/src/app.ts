import { healthRoutes } from '@ctp/core/runtime';
import { Hono } from 'hono';

/** The CTP SaaS simulator; it keeps its state in memory and depends on nothing. */
export function createSimulatorApp(): Hono {
  const app = new Hono();
  app.route('/', healthRoutes([]));
  return app;
}

import { healthRoutes } from '@ctp/core/runtime';
import type { Orm } from '@ctp/db';
import { Hono } from 'hono';

export interface DashboardDependencies {
  readonly orm: Orm;
}

export function createDashboardApp({ orm }: DashboardDependencies): Hono {
  const app = new Hono();
  app.route(
    '/',
    healthRoutes([
      { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
    ]),
  );
  return app;
}

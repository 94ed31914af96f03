import { healthRoutes } from '@ctp/core/runtime';
import type { Orm } from '@ctp/db';
import { Hono } from 'hono';

export interface ApiDependencies {
  readonly orm: Orm;
}

/** The api as a Hono app built from its dependencies, so tests can build one per database. */
export function createApiApp({ orm }: ApiDependencies): Hono {
  const app = new Hono();
  app.route(
    '/',
    healthRoutes([
      { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
    ]),
  );
  return app;
}

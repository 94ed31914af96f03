import { listDrifts, recentReconciliations, reconciliationById } from '@ctp/core/reconciliation';
import type { Orm } from '@ctp/db';
import { Hono } from 'hono';
import type { DashboardEnv } from '../env.ts';
import { notFoundPage } from '../views/entity.ts';
import { reconciliationPage, reconciliationsPage } from './page.ts';

/** Reconciliations with the network on the dashboard (read-only): the latest, and each one's drifts. */
export function reconciliationRoutes({ orm }: { readonly orm: Orm }): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  const page = (c: { var: DashboardEnv['Variables'] }) => ({ user: c.var.session.user, csrf: c.var.csrf });

  app.get('/reconciliations', async (c) =>
    c.html(reconciliationsPage(page(c), await recentReconciliations(orm.em.fork(), 100))),
  );

  app.get('/reconciliations/:id', async (c) => {
    const run = await reconciliationById(orm.em.fork(), c.req.param('id'));
    if (run === null) return c.html(notFoundPage(page(c), 'No such reconciliation.'), 404);
    const drifts = await listDrifts(orm.em.fork(), run.tenant, run.reconciliationId, { limit: 500 });
    return c.html(reconciliationPage(page(c), run, drifts.items, drifts.nextCursor !== null));
  });

  return app;
}

import { randomUUID } from 'node:crypto';
import {
  type BatchAnswer,
  batchFailureGroups,
  batchItemsQuerySchema,
  batchListQuerySchema,
  batchPace,
  batchPathSchema,
  batchTenants,
  cancelBatch,
  getBatch,
  listBatches,
  listBatchItems,
} from '@ctp/core/batches';
import { DomainError } from '@ctp/core/errors';
import type { Logger } from '@ctp/core/logging';
import type { AdminMetrics } from '@ctp/core/metrics';
import type { Orm } from '@ctp/db';
import { type Context, Hono } from 'hono';
import type { SessionSigner } from '../auth/session.ts';
import type { DashboardEnv } from '../env.ts';
import { readForm, refuse } from '../http.ts';
import { confirmPage } from '../views/confirm.ts';
import { notFoundPage } from '../views/entity.ts';
import { type BatchRow, batchHref, batchListPage, batchPage, batchTenantsPage, finishedOf } from './page.ts';

export interface BatchRoutesDependencies {
  readonly orm: Orm;
  readonly signer: SessionSigner;
  readonly logger: Logger;
  readonly adminMetrics?: AdminMetrics;
}

/** A tenant as the api keys name it. */
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The list's cursor as `listBatches` makes it (base64url of `<ISO time>|<batch id>`), checked in
 * full here: `listBatches`' own check lets through a time PostgreSQL cannot read (`1|<id>`).
 */
function isListCursor(cursor: string): boolean {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  return rest.length === 0 && ISO_TIME.test(at ?? '') && UUID.test(id ?? '');
}

/** The tenant and batch of a path, or null when either is malformed (no such batch, then). */
function pathOf(params: Record<string, string>): { tenant: string; batchId: string } | null {
  const { tenant = '', batchId = '' } = params;
  return TENANT.test(tenant) && batchPathSchema.safeParse({ batchId }).success ? { tenant, batchId } : null;
}

const problemsOf = (issues: readonly { path: readonly PropertyKey[]; message: string }[]) =>
  issues.map((issue) => `${issue.path.map(String).join('.') || 'query'}: ${issue.message}`).join('; ');

/**
 * The tenants' batches on the dashboard: a page per tenant (newest first) and one per batch with
 * its failures by reason and its items by status, read with the api's own reads; cancel after a
 * confirmation page, through the api's `cancelBatch` (its `batch.cancel` audit row names the
 * operator). Another tenant's batch is not found, as on the api.
 */
export function batchRoutes(deps: BatchRoutesDependencies): Hono<DashboardEnv> {
  const { orm, signer, logger } = deps;
  const app = new Hono<DashboardEnv>();
  const page = (c: { var: DashboardEnv['Variables'] }) => ({ user: c.var.session.user, csrf: c.var.csrf });
  const notFound = (c: Context<DashboardEnv>) => c.html(notFoundPage(page(c), 'No such batch.'), 404);
  const badQuery = (c: Context<DashboardEnv>, problems: string) =>
    refuse(c, 400, 'VALIDATION_FAILED', problems);
  const withPace = async (batch: BatchAnswer): Promise<BatchRow> => ({
    ...batch,
    pace: await batchPace(orm.em, batch),
  });
  /** The batch, or null when this tenant has none by that id. */
  const batchOf = async (tenant: string, batchId: string) => {
    try {
      return await getBatch(orm.em, tenant, batchId);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  };

  app.get('/batches', async (c) => c.html(batchTenantsPage(page(c), await batchTenants(orm.em))));

  app.get('/batches/:tenant', async (c) => {
    const tenant = c.req.param('tenant');
    if (!TENANT.test(tenant)) return c.html(notFoundPage(page(c), 'No such tenant.'), 404);
    const query = batchListQuerySchema.safeParse(c.req.query());
    if (!query.success) return badQuery(c, problemsOf(query.error.issues));
    const { cursor, limit } = query.data;
    if (cursor !== undefined && !isListCursor(cursor))
      return badQuery(c, 'cursor: must be a cursor this page returned');
    const { items, nextCursor } = await listBatches(orm.em, tenant, { cursor, limit });
    return c.html(batchListPage(page(c), tenant, await Promise.all(items.map(withPace)), nextCursor));
  });

  app.get('/batches/:tenant/:batchId', async (c) => {
    const path = pathOf(c.req.param());
    if (path === null) return notFound(c);
    const query = batchItemsQuerySchema.safeParse(c.req.query());
    if (!query.success) return badQuery(c, problemsOf(query.error.issues));
    const notice = c.req.query('cancelled');
    if (notice !== undefined && !/^\d{1,9}$/.test(notice)) return badQuery(c, 'cancelled: must be a count');
    const { tenant, batchId } = path;
    const batch = await batchOf(tenant, batchId);
    if (batch === null) return notFound(c);
    const { status, cursor, limit } = query.data;
    const cancelled = notice === undefined ? undefined : Number(notice);
    const [row, failures, items] = await Promise.all([
      withPace(batch),
      batchFailureGroups(orm.em, batchId),
      listBatchItems(orm.em, tenant, batchId, { status, cursor, limit }),
    ]);
    return c.html(
      batchPage(page(c), {
        tenant,
        batch: row,
        failures,
        items: items.items,
        status,
        limit,
        nextCursor: items.nextCursor,
        ...(cancelled === undefined ? {} : { cancelled }),
      }),
    );
  });

  app.get('/batches/:tenant/:batchId/cancel', async (c) => {
    const path = pathOf(c.req.param());
    if (path === null) return notFound(c);
    const { tenant, batchId } = path;
    const batch = await batchOf(tenant, batchId);
    if (batch === null) return notFound(c);
    const back = batchHref(tenant, batchId);
    return c.html(
      confirmPage(page(c), {
        formAction: `${back}/cancel`,
        action: 'batch-cancel',
        target: batchId,
        back,
        nonce: randomUUID(),
        title: 'Cancel the batch',
        facts: [
          ['Tenant', tenant],
          ['Batch', batchId],
          ['External id', batch.externalBatchId ?? '—'],
          ['Status', batch.status],
          ['Finished', `${finishedOf(batch.counts)} of ${batch.counts.total}`],
          ['Pending', String(batch.counts.pending)],
          ['In progress', String(batch.counts.inProgress)],
        ],
        effect: `The ${batch.counts.pending} items not started yet become CANCELLED and never run; the ${batch.counts.inProgress} items already started finish. The batch is CANCELLED at once, and ends (its CTP_BATCH_COMPLETED entry) when they have. It cannot be undone.`,
        ...(batch.status === 'RUNNING'
          ? {}
          : { blocked: `The batch is ${batch.status}: there is nothing to cancel.` }),
        reasonRequired: false,
        danger: true,
      }),
    );
  });

  app.post('/batches/:tenant/:batchId/cancel', async (c) => {
    const form = await readForm(c);
    if (form === null)
      return refuse(c, 400, 'VALIDATION_FAILED', 'the form contains a NUL byte or a broken character');
    if (!signer.checkCsrf(c.var.session, form.csrf)) return c.text('invalid CSRF token', 403);
    const path = pathOf(c.req.param());
    if (path === null) return notFound(c);
    const { tenant, batchId } = path;
    const actor = c.var.session.user;
    let cancelledItems: number;
    try {
      ({ cancelledItems } = await cancelBatch(orm.em, {
        tenant,
        batchId,
        actor,
        reason: form.reason?.slice(0, 1_000),
      }));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NOT_FOUND') return notFound(c);
      throw error;
    }
    deps.adminMetrics?.actions.inc({ action: 'batch.cancel', result: 'done' });
    logger.info({ actor, tenant, batchId, cancelledItems }, 'batch cancelled from the dashboard');
    return c.redirect(`${batchHref(tenant, batchId)}?cancelled=${cancelledItems}`, 303);
  });

  return app;
}

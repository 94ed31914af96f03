import { idempotencyHeadersSchema } from '@ctp/core/contracts';
import { DomainError, notFound } from '@ctp/core/errors';
import {
  driftListSchema,
  InvalidCursor,
  listDrifts,
  listReconciliations,
  pageQuerySchema,
  readReconciliation,
  reconcileAcceptedSchema,
  reconcileBodySchema,
  reconciliationListSchema,
  reconciliationPathSchema,
  reconciliationViewSchema,
  startReconciliation,
} from '@ctp/core/reconciliation';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface ReconciliationRoutesDependencies {
  readonly orm: Orm;
}

const tags = ['CTP reconciliation'];

const routes = {
  start: createRoute({
    method: 'post',
    path: '/v1/ctp/reconciliations',
    operationId: 'startReconciliation',
    tags,
    summary: 'Compare entities with the network (GET /getData) and repair drift, or only report it (dryRun)',
    description:
      "No `entityIds`: every entity of the tenant on CTP. Statuses and CTP ids: the network wins (status history reason `RECONCILED`, notified as `CTP_STATUS_CHANGED` with `reason: RECONCILED`). A profile or card the network holds out of date starts `CTP_UPDATE_ENTITY` / `CTP_UPDATE_KIT`. Entities with an operation in flight are skipped (`SKIPPED_IN_FLIGHT`). An id that is not the tenant's: `404`, nothing recorded. The workers check the entities within the reconciliation share of the tenant's SaaS rate (`RECONCILE_SAAS_SHARE`).",
    request: {
      headers: idempotencyHeadersSchema,
      body: { required: false, content: json(reconcileBodySchema) },
    },
    responses: {
      202: {
        description: 'Recorded; the workers check its entities',
        content: json(reconcileAcceptedSchema),
      },
      ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/ctp/reconciliations',
    operationId: 'listReconciliations',
    tags,
    summary: "The tenant's reconciliations (on request and scheduled), newest first",
    request: { query: pageQuerySchema },
    responses: {
      200: { description: 'A page of reconciliations', content: json(reconciliationListSchema) },
      ...errorResponses(400, 401, 403, 503),
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/ctp/reconciliations/{reconciliationId}',
    operationId: 'getReconciliation',
    tags,
    summary: 'A reconciliation and its counts',
    request: { params: reconciliationPathSchema },
    responses: {
      200: { description: 'Reconciliation', content: json(reconciliationViewSchema) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  drifts: createRoute({
    method: 'get',
    path: '/v1/ctp/reconciliations/{reconciliationId}/drifts',
    operationId: 'listReconciliationDrifts',
    tags,
    summary: 'The differences a reconciliation found, and what was done about each',
    request: { params: reconciliationPathSchema, query: pageQuerySchema },
    responses: {
      200: { description: 'A page of drifts', content: json(driftListSchema) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
};

const badCursor = () =>
  new DomainError('VALIDATION_FAILED', 'the request is invalid', [
    { field: 'cursor', message: 'is not a cursor of this list' },
  ]);

export function createReconciliationRoutes({ orm }: ReconciliationRoutesDependencies) {
  return createRouter()
    .openapi(routes.start, async (c) => {
      const idempotencyKey = c.req.valid('header')['idempotency-key'];
      // The body is optional: without one (or without a JSON one), every entity on CTP, for real.
      const body = (c.req.valid('json') as typeof reconcileBodySchema._zod.output | undefined) ?? {};
      const { reconciliationId, replayed } = await startReconciliation(orm.em.fork(), {
        tenant: tenantOf(c),
        entityIds: body.entityIds,
        dryRun: body.dryRun,
        idempotencyKey,
      });
      if (replayed) c.header('Idempotent-Replayed', 'true');
      c.header('Location', `/v1/ctp/reconciliations/${reconciliationId}`);
      return c.json({ reconciliationId }, 202);
    })
    .openapi(routes.list, async (c) => {
      const { cursor, limit } = c.req.valid('query');
      try {
        return c.json(await listReconciliations(orm.em.fork(), tenantOf(c), { cursor, limit }), 200);
      } catch (error) {
        if (error instanceof InvalidCursor) throw badCursor();
        throw error;
      }
    })
    .openapi(routes.get, async (c) => {
      const view = await readReconciliation(
        orm.em.fork(),
        tenantOf(c),
        c.req.valid('param').reconciliationId,
      );
      if (view === null) throw notFound('reconciliation');
      return c.json(view, 200);
    })
    .openapi(routes.drifts, async (c) => {
      const tenant = tenantOf(c);
      const { reconciliationId } = c.req.valid('param');
      if ((await readReconciliation(orm.em.fork(), tenant, reconciliationId)) === null)
        throw notFound('reconciliation');
      const { cursor, limit } = c.req.valid('query');
      try {
        const page = await listDrifts(orm.em.fork(), tenant, reconciliationId, { cursor, limit });
        return c.json(page, 200);
      } catch (error) {
        if (error instanceof InvalidCursor) throw badCursor();
        throw error;
      }
    });
}

import {
  ctpEntityViewSchema,
  entityPathSchema,
  networkDataSchema,
  operationPathSchema,
  operationViewSchema,
  tracePathSchema,
  traceViewSchema,
} from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import { getCtpEntityView, getOperationView, getTraceView } from '@ctp/core/operations';
import { type SaasClient, SaasError } from '@ctp/core/saas';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface CtpReadRoutesDependencies {
  readonly orm: Orm;
  readonly saas: SaasClient;
}

const tags = ['CTP reads'];

const routes = {
  entity: createRoute({
    method: 'get',
    path: '/v1/ctp/entities/{entityId}',
    operationId: 'getCtpEntity',
    tags,
    summary: "The customer's CTP status and ids, and its cards'",
    request: { params: entityPathSchema },
    responses: {
      200: { description: 'CTP view', content: json(ctpEntityViewSchema) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  network: createRoute({
    method: 'get',
    path: '/v1/ctp/entities/{entityId}/network',
    operationId: 'getCtpEntityNetwork',
    tags,
    summary: 'What the CTP SaaS holds for the customer now (GET /getData); never a PAN',
    description:
      "The SaaS's answer as the SaaS client read it: any card number in its text masked (first 6, last 4), NUL and lone surrogates replaced by U+FFFD.",
    request: { params: entityPathSchema },
    responses: {
      200: { description: 'Network view', content: json(networkDataSchema) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  operation: createRoute({
    method: 'get',
    path: '/v1/ctp/operations/{operationId}',
    operationId: 'getOperation',
    tags,
    summary: 'An operation: QUEUED, then its request trace status',
    request: { params: operationPathSchema },
    responses: {
      200: { description: 'Operation', content: json(operationViewSchema) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  trace: createRoute({
    method: 'get',
    path: '/v1/ctp/traces/{requestTraceId}',
    operationId: 'getTrace',
    tags,
    summary: 'A ctp_requestIdTracking row',
    request: { params: tracePathSchema },
    responses: {
      200: { description: 'Request trace', content: json(traceViewSchema) },
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
};

export function createCtpReadRoutes({ orm, saas }: CtpReadRoutesDependencies) {
  return createRouter()
    .openapi(routes.entity, async (c) =>
      c.json(await getCtpEntityView(orm.em, tenantOf(c), c.req.valid('param').entityId), 200),
    )
    .openapi(routes.network, async (c) => {
      const tenant = tenantOf(c);
      const { entityId } = c.req.valid('param');
      await getCtpEntityView(orm.em, tenant, entityId); // 404 for ids that are not this tenant's
      try {
        return c.json(await saas.getData(tenant, entityId), 200);
      } catch (error) {
        if (error instanceof SaasError && error.status === 404)
          throw new DomainError('NOT_FOUND', 'the network holds nothing for this entity');
        if (error instanceof SaasError) throw new DomainError('UNAVAILABLE', 'the CTP SaaS did not answer');
        throw error;
      }
    })
    .openapi(routes.operation, async (c) =>
      c.json(await getOperationView(orm.em, tenantOf(c), c.req.valid('param').operationId), 200),
    )
    .openapi(routes.trace, async (c) =>
      c.json(await getTraceView(orm.em, tenantOf(c), c.req.valid('param').requestTraceId), 200),
    );
}

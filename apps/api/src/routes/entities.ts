import {
  entityAnswerSchema,
  entityBodySchema,
  entityPatchSchema,
  entityPathSchema,
} from '@ctp/core/contracts';
import { syncOnEntityChange } from '@ctp/core/operations';
import { type EntityChangeHook, getEntity, patchEntity, putEntity } from '@ctp/core/records';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface EntityRoutesDependencies {
  readonly orm: Orm;
  /** Runs inside each entity change's transaction (automatic CTP updates). */
  readonly onEntityChanged?: EntityChangeHook;
}

const tags = ['Platform records'];

const putEntityRoute = createRoute({
  method: 'put',
  path: '/v1/entities/{entityId}',
  operationId: 'putEntity',
  tags,
  summary: 'Create or replace a customer (entity)',
  request: {
    params: entityPathSchema,
    body: { required: true, content: json(entityBodySchema) },
  },
  responses: {
    200: { description: 'Replaced', content: json(entityAnswerSchema) },
    201: { description: 'Created', content: json(entityAnswerSchema) },
    ...errorResponses(400, 401, 403, 413, 415, 503),
  },
});

const patchEntityRoute = createRoute({
  method: 'patch',
  path: '/v1/entities/{entityId}',
  operationId: 'patchEntity',
  tags,
  summary: 'Change some fields of a customer',
  description: '`phone`, `address` and `consent` are replaced whole; `consent: null` removes it.',
  request: {
    params: entityPathSchema,
    body: { required: true, content: json(entityPatchSchema) },
  },
  responses: {
    200: { description: 'Changed', content: json(entityAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

const getEntityRoute = createRoute({
  method: 'get',
  path: '/v1/entities/{entityId}',
  operationId: 'getEntity',
  tags,
  summary: 'A customer, its CTP status, and its kits with theirs (PAN masked)',
  request: { params: entityPathSchema },
  responses: {
    200: { description: 'The customer', content: json(entityAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

/**
 * A committed change of name, email, phone or address starts the automatic CTP updates in the
 * change's own transaction (see `syncOnEntityChange`); tests may pass another hook.
 */
export function createEntityRoutes({ orm, onEntityChanged = syncOnEntityChange }: EntityRoutesDependencies) {
  return createRouter()
    .openapi(putEntityRoute, async (c) => {
      const { entityId } = c.req.valid('param');
      const request = { tenant: tenantOf(c), entityId, body: c.req.valid('json') };
      const { created, entity } = await putEntity(orm.em, request, onEntityChanged);
      if (!created) return c.json(entity, 200);
      c.header('Location', `/v1/entities/${entityId}`);
      return c.json(entity, 201);
    })
    .openapi(patchEntityRoute, async (c) => {
      const { entityId } = c.req.valid('param');
      const request = { tenant: tenantOf(c), entityId, patch: c.req.valid('json') };
      return c.json(await patchEntity(orm.em, request, onEntityChanged), 200);
    })
    .openapi(getEntityRoute, async (c) => {
      const { entityId } = c.req.valid('param');
      return c.json(await getEntity(orm.em, { tenant: tenantOf(c), entityId }), 200);
    });
}

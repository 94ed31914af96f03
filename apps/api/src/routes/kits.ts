import type { PanCipher } from '@ctp/core/cards';
import { kitAnswerSchema, kitBodySchema, kitPathSchema } from '@ctp/core/contracts';
import { syncOrEnrolOnKitChange } from '@ctp/core/operations';
import { getKit, type KitChangeHook, putKit } from '@ctp/core/records';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface KitRoutesDependencies {
  readonly orm: Orm;
  readonly panCipher: PanCipher;
  /**
   * Runs inside each card change's transaction; by default the automatic `CTP_UPDATE_KIT`, or a
   * new card's auto-enrolment.
   */
  readonly onKitChanged?: KitChangeHook;
}

const tags = ['Platform records'];

const putKitRoute = createRoute({
  method: 'put',
  path: '/v1/entities/{entityId}/kits/{kitNo}',
  operationId: 'putKit',
  tags,
  summary: 'Create or replace a card (kit) of a customer',
  description: 'The PAN is stored encrypted and answered masked (first 6, last 4).',
  request: {
    params: kitPathSchema,
    body: { required: true, content: json(kitBodySchema) },
  },
  responses: {
    200: { description: 'Replaced', content: json(kitAnswerSchema) },
    201: { description: 'Created', content: json(kitAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
});

const getKitRoute = createRoute({
  method: 'get',
  path: '/v1/entities/{entityId}/kits/{kitNo}',
  operationId: 'getKit',
  tags,
  summary: 'A card, masked, and its CTP status',
  request: { params: kitPathSchema },
  responses: {
    200: { description: 'The card', content: json(kitAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function createKitRoutes({
  orm,
  panCipher,
  onKitChanged = syncOrEnrolOnKitChange,
}: KitRoutesDependencies) {
  return createRouter()
    .openapi(putKitRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      const request = { tenant: tenantOf(c), entityId, kitNo, body: c.req.valid('json') };
      const { created, kit } = await putKit(orm.em, panCipher, request, onKitChanged);
      if (!created) return c.json(kit, 200);
      c.header('Location', `/v1/entities/${entityId}/kits/${kitNo}`);
      return c.json(kit, 201);
    })
    .openapi(getKitRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      return c.json(await getKit(orm.em, { tenant: tenantOf(c), entityId, kitNo }), 200);
    });
}

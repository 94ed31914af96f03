import {
  entityPathSchema,
  idempotencyHeadersSchema,
  kitPathSchema,
  kitRefBodySchema,
  type OperationAccepted,
  operationAcceptedSchema,
  removeEntityBodySchema,
} from '@ctp/core/contracts';
import type { CtpEvent } from '@ctp/core/lifecycle';
import { type OperationRequest, requestOperation } from '@ctp/core/operations';
import { activeTraceparent, annotateActiveSpan, SPAN_ATTRIBUTES } from '@ctp/core/tracing';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiEnv } from '../http/env.ts';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface CtpOperationRoutesDependencies {
  readonly orm: Orm;
}

const tags = ['CTP operations'];

const accepted = {
  202: {
    description:
      'Durably recorded; it runs even if every process dies the next moment. `Location` names the operation.',
    content: json(operationAcceptedSchema),
  },
  ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
};

const summaryOf = (event: CtpEvent, summary: string) => `${event}: ${summary}`;
/** `CTP_ADD_KIT` → `ctpAddKit`. */
const operationIdOf = (event: CtpEvent) =>
  event.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A route whose body names the kit (`{ "kitNo" }`). */
function routeWithKitBody(event: CtpEvent, path: string, summary: string) {
  return createRoute({
    method: 'post',
    path,
    operationId: operationIdOf(event),
    tags,
    summary: summaryOf(event, summary),
    request: {
      params: entityPathSchema,
      headers: idempotencyHeadersSchema,
      body: { required: true, content: json(kitRefBodySchema) },
    },
    responses: accepted,
  });
}

/** A route without a body, on an entity or on one of its kits. */
function routeOn<P extends typeof entityPathSchema | typeof kitPathSchema>(
  params: P,
  method: 'post' | 'delete',
  event: CtpEvent,
  path: string,
  summary: string,
) {
  return createRoute({
    method,
    path,
    operationId: operationIdOf(event),
    tags,
    summary: summaryOf(event, summary),
    request: { params, headers: idempotencyHeadersSchema },
    responses: accepted,
  });
}

const routes = {
  register: routeWithKitBody(
    'CTP_REGISTER_ENTITY_AND_KIT',
    '/v1/ctp/entities/{entityId}/registration',
    'enrol the customer with one card',
  ),
  addKit: routeWithKitBody(
    'CTP_ADD_KIT',
    '/v1/ctp/entities/{entityId}/kits',
    'enrol another card of an enrolled customer',
  ),
  removeEntity: createRoute({
    method: 'delete',
    path: '/v1/ctp/entities/{entityId}',
    operationId: operationIdOf('CTP_REMOVE_ENTITY'),
    tags,
    summary: summaryOf('CTP_REMOVE_ENTITY', 'remove the customer and its cards'),
    description:
      'With `{ "reason": "CUSTOMER_OPT_OUT" }` the opt-out is remembered: the customer is never auto-enrolled again.',
    request: {
      params: entityPathSchema,
      headers: idempotencyHeadersSchema,
      body: { required: false, content: json(removeEntityBodySchema) },
    },
    responses: accepted,
  }),
  removeKit: routeOn(
    kitPathSchema,
    'delete',
    'CTP_REMOVE_KIT',
    '/v1/ctp/entities/{entityId}/kits/{kitNo}',
    'remove one card',
  ),
  syncEntity: routeOn(
    entityPathSchema,
    'post',
    'CTP_UPDATE_ENTITY',
    '/v1/ctp/entities/{entityId}/sync',
    "send the customer's current profile",
  ),
  syncKit: routeOn(
    kitPathSchema,
    'post',
    'CTP_UPDATE_KIT',
    '/v1/ctp/entities/{entityId}/kits/{kitNo}/sync',
    "send the card's current data",
  ),
};

/** Accepts the operation and answers the contract's 202 (the first answer again on a replay). */
async function accept(
  c: Context<ApiEnv>,
  orm: Orm,
  request: Omit<OperationRequest, 'tenant' | 'idempotencyKey'>,
  idempotencyKey: string | undefined,
) {
  const { operation, replayed } = await requestOperation(orm.em, {
    ...request,
    tenant: tenantOf(c),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    traceparent: activeTraceparent(),
  });
  annotateActiveSpan({
    [SPAN_ATTRIBUTES.operationId]: operation.id,
    [SPAN_ATTRIBUTES.event]: operation.event,
    [SPAN_ATTRIBUTES.tenant]: operation.tenant,
    [SPAN_ATTRIBUTES.outcome]: replayed ? 'replayed' : 'accepted',
  });
  const body: OperationAccepted = {
    operationId: operation.id,
    event: operation.event,
    entityId: operation.entityId,
    ...(operation.kitNumber ? { kitNo: operation.kitNumber } : {}),
    status: replayed ? operation.status : 'QUEUED',
  };
  c.header('Location', `/v1/ctp/operations/${operation.id}`);
  if (replayed) c.header('Idempotent-Replayed', 'true');
  return c.json(body, 202);
}

export function createCtpOperationRoutes({ orm }: CtpOperationRoutesDependencies) {
  return createRouter()
    .openapi(routes.register, (c) =>
      accept(
        c,
        orm,
        {
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId: c.req.valid('param').entityId,
          kitNo: c.req.valid('json').kitNo,
        },
        c.req.valid('header')['idempotency-key'],
      ),
    )
    .openapi(routes.addKit, (c) =>
      accept(
        c,
        orm,
        { event: 'CTP_ADD_KIT', entityId: c.req.valid('param').entityId, kitNo: c.req.valid('json').kitNo },
        c.req.valid('header')['idempotency-key'],
      ),
    )
    .openapi(routes.removeEntity, (c) => {
      const { reason } = c.req.valid('json');
      return accept(
        c,
        orm,
        {
          event: 'CTP_REMOVE_ENTITY',
          entityId: c.req.valid('param').entityId,
          ...(reason === undefined ? {} : { reason }),
        },
        c.req.valid('header')['idempotency-key'],
      );
    })
    .openapi(routes.removeKit, (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      return accept(
        c,
        orm,
        { event: 'CTP_REMOVE_KIT', entityId, kitNo },
        c.req.valid('header')['idempotency-key'],
      );
    })
    .openapi(routes.syncEntity, (c) =>
      accept(
        c,
        orm,
        { event: 'CTP_UPDATE_ENTITY', entityId: c.req.valid('param').entityId },
        c.req.valid('header')['idempotency-key'],
      ),
    )
    .openapi(routes.syncKit, (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      return accept(
        c,
        orm,
        { event: 'CTP_UPDATE_KIT', entityId, kitNo },
        c.req.valid('header')['idempotency-key'],
      );
    });
}

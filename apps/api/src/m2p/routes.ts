import {
  M2P_BASE_PATH,
  m2pEntityBodySchema,
  m2pEntityDetailsAnswerSchema,
  m2pHeadersSchema,
  m2pKitBodySchema,
  m2pMutationAnswerSchema,
  m2pReadHeadersSchema,
  m2pRegisterBodySchema,
  m2pRequestStatusAnswerSchema,
  m2pTraceBodySchema,
} from '@ctp/core/contracts';
import type { CtpEvent } from '@ctp/core/lifecycle';
import { syncOnEntityChange } from '@ctp/core/operations';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiEnv } from '../http/env.ts';
import { tenantOf } from '../http/env.ts';
import { createRouter, json } from '../http/router.ts';
import {
  fetchEntityDetails,
  fetchRequestStatus,
  type M2pFacadeDependencies,
  type MutationRequest,
  requestAndAwaitAcceptance,
} from './facade.ts';
import { m2pErrorResponses } from './http.ts';

export type M2pRoutesDependencies = Omit<M2pFacadeDependencies, 'acceptWaitMs'> & {
  /** `M2P_ACCEPT_WAIT_MS` [10 s]. */
  readonly acceptWaitMs?: number;
};

const tags = ['M2P-compatible API'];

const mutationAnswer = {
  200: {
    description:
      'Accepted by the SaaS: `requestTraceId` is for `fetchRequestStatus`. Past `M2P_ACCEPT_WAIT_MS` it is null, and the operation (durably recorded, it runs anyway) is named by `operationId`.',
    content: json(m2pMutationAnswerSchema),
  },
  ...m2pErrorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
};

function mutation<
  B extends typeof m2pRegisterBodySchema | typeof m2pKitBodySchema | typeof m2pEntityBodySchema,
>(name: string, event: CtpEvent, body: B, summary: string, description: string) {
  return createRoute({
    method: 'post',
    path: `${M2P_BASE_PATH}/${name}`,
    operationId: `m2p${name[0]?.toUpperCase()}${name.slice(1)}`,
    tags,
    summary: `${event}: ${summary}`,
    description,
    request: { headers: m2pHeadersSchema, body: { required: true, content: json(body) } },
    responses: mutationAnswer,
  });
}

const routes = {
  register: mutation(
    'registerEntityAndKit',
    'CTP_REGISTER_ENTITY_AND_KIT',
    m2pRegisterBodySchema,
    'enrol the customer with one card',
    "Checked in M2P's order: entityId present, kitNo present, the entity exists (else Y109), the customer is active (else 409 CTP_CUSTOMER_NOT_ACTIVE), the kit is the entity's (and an active card, else 409 CTP_CARD_NOT_ACTIVE), CTP enabled for the tenant (409 CTP_NOT_ENABLED); then the lifecycle. A `consent` is stored on the customer before the request.",
  ),
  addKit: mutation(
    'addKit',
    'CTP_ADD_KIT',
    m2pKitBodySchema,
    'enrol another card of an enrolled customer',
    'The customer must be on CTP (else Y109) and ACTIVE, the kit its own and not enrolled yet.',
  ),
  removeKit: mutation(
    'removeKit',
    'CTP_REMOVE_KIT',
    m2pKitBodySchema,
    'remove one card; the customer stays on CTP with its other cards',
    'The customer must be on CTP (else Y109), the kit ACTIVE (or DISABLED).',
  ),
  removeEntity: mutation(
    'removeEntity',
    'CTP_REMOVE_ENTITY',
    m2pEntityBodySchema,
    'remove the customer and all its cards',
    'The customer must be on CTP (else Y109) and ACTIVE (or DISABLED); it and its cards go to REMOVAL_IN_PROGRESS at once, REMOVED on success.',
  ),
  status: createRoute({
    method: 'post',
    path: `${M2P_BASE_PATH}/fetchRequestStatus`,
    operationId: 'm2pFetchRequestStatus',
    tags,
    summary:
      'The status of a request trace, asking the SaaS (up to 4 times, 1 s apart) while it is in progress',
    description:
      'A finished result the SaaS reports and we have not applied yet (its webhook was lost or late) is applied now, by the same step as the webhook: applied and announced once, whichever comes first.',
    request: { headers: m2pReadHeadersSchema, body: { required: true, content: json(m2pTraceBodySchema) } },
    responses: {
      200: { description: 'The request trace', content: json(m2pRequestStatusAnswerSchema) },
      ...m2pErrorResponses(400, 401, 403, 404, 413, 415, 429, 503),
    },
  }),
  details: createRoute({
    method: 'post',
    path: `${M2P_BASE_PATH}/fetchEntityDetails`,
    operationId: 'm2pFetchEntityDetails',
    tags,
    summary:
      "What the network holds for the customer now (GET /getData), in M2P's shape; card numbers masked",
    description:
      "`cardNo` is masked to the first 6 and last 4 digits (M2P's sample shows it whole; this service never answers a card number). Statuses the network reports differently are applied to ours, as the network's status-change webhook would be, and notified as `CTP_STATUS_CHANGED`.",
    request: { headers: m2pReadHeadersSchema, body: { required: true, content: json(m2pEntityBodySchema) } },
    responses: {
      200: { description: 'The CTP profile', content: json(m2pEntityDetailsAnswerSchema) },
      ...m2pErrorResponses(400, 401, 403, 404, 413, 415, 429, 503),
    },
  }),
};

const ok = <T>(result: T) => ({ result, exception: null, pagination: null });

export function createM2pRoutes(deps: M2pRoutesDependencies) {
  const facade: M2pFacadeDependencies = {
    ...deps,
    acceptWaitMs: deps.acceptWaitMs ?? 10_000,
    onEntityChanged: deps.onEntityChanged ?? syncOnEntityChange,
  };
  const mutate = async (
    c: Context<ApiEnv>,
    request: Omit<MutationRequest, 'tenant' | 'idempotencyKey'>,
    idempotencyKey: string | undefined,
  ) => {
    const result = await requestAndAwaitAcceptance(facade, {
      ...request,
      tenant: tenantOf(c),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    return c.json(ok(result), 200);
  };
  return createRouter()
    .openapi(routes.register, (c) => {
      const { entityId, kitNo, consent } = c.req.valid('json');
      return mutate(
        c,
        {
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId,
          kitNo,
          ...(consent === undefined ? {} : { consent }),
        },
        c.req.valid('header')['idempotency-key'],
      );
    })
    .openapi(routes.addKit, (c) => {
      const { entityId, kitNo } = c.req.valid('json');
      return mutate(c, { event: 'CTP_ADD_KIT', entityId, kitNo }, c.req.valid('header')['idempotency-key']);
    })
    .openapi(routes.removeKit, (c) => {
      const { entityId, kitNo } = c.req.valid('json');
      return mutate(
        c,
        { event: 'CTP_REMOVE_KIT', entityId, kitNo },
        c.req.valid('header')['idempotency-key'],
      );
    })
    .openapi(routes.removeEntity, (c) => {
      const { entityId } = c.req.valid('json');
      return mutate(c, { event: 'CTP_REMOVE_ENTITY', entityId }, c.req.valid('header')['idempotency-key']);
    })
    .openapi(routes.status, async (c) => {
      const { requestTraceId } = c.req.valid('json');
      return c.json(ok(await fetchRequestStatus(facade, tenantOf(c), requestTraceId, c.var.logger)), 200);
    })
    .openapi(routes.details, async (c) => {
      const { entityId } = c.req.valid('json');
      return c.json(ok(await fetchEntityDetails(facade, tenantOf(c), entityId)), 200);
    });
}

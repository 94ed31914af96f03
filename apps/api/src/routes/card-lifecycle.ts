import type { PanCipher } from '@ctp/core/cards';
import {
  entityAnswerSchema,
  entityPathSchema,
  entityStatusBodySchema,
  idempotencyHeadersSchema,
  kitAnswerSchema,
  kitPatchSchema,
  kitPathSchema,
  kitReplaceBodySchema,
  kitReplacedAnswerSchema,
  kitStatusBodySchema,
  replacementViewSchema,
} from '@ctp/core/contracts';
import {
  getReplacementById,
  getReplacementOfKit,
  queueRecordWork,
  startReplacement,
  syncOnKitChange,
} from '@ctp/core/operations';
import {
  type Idempotency,
  type KitChangeHook,
  type KitReplacedHook,
  patchKit,
  type RecordWorkHook,
  replaceKit,
  setEntityStatus,
  setKitStatus,
} from '@ctp/core/records';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiEnv } from '../http/env.ts';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';
import { actorOf } from './settings.ts';

/**
 * Card and customer lifecycle from the platform's records (platform contract, v2): changes of a
 * card or customer that start their CTP work by themselves, in the change's own transaction.
 */
export interface CardLifecycleRoutesDependencies {
  readonly orm: Orm;
  readonly panCipher: PanCipher;
  /** Names the api key of a change kept with its `Idempotency-Key` (`api-key:<pkey>`). */
  readonly apiKeyPepper: string;
  /** Runs inside a card change's transaction; by default the automatic `CTP_UPDATE_KIT`. */
  readonly onKitChanged?: KitChangeHook;
  /** Runs inside a status change's transaction; by default the queued removal of a closed record. */
  readonly onRecordWork?: RecordWorkHook;
  /** Runs inside a replacement's transaction; by default the plan that moves the network. */
  readonly onKitReplaced?: KitReplacedHook;
}

const tags = ['Platform records'];

const patchKitRoute = createRoute({
  method: 'patch',
  path: '/v1/entities/{entityId}/kits/{kitNo}',
  operationId: 'patchKit',
  tags,
  summary: 'Change the expiry or the name on card of a card',
  description:
    'A card `ACTIVE` on Click to Pay sends the change to the network by itself (`CTP_UPDATE_KIT`, after any operation in flight for the customer; changes made meanwhile are sent together).',
  request: {
    params: kitPathSchema,
    headers: idempotencyHeadersSchema,
    body: { required: true, content: json(kitPatchSchema) },
  },
  responses: {
    200: { description: 'Changed', content: json(kitAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

const putKitStatusRoute = createRoute({
  method: 'put',
  path: '/v1/entities/{entityId}/kits/{kitNo}/status',
  operationId: 'putKitStatus',
  tags,
  summary: "Set a card's status: ACTIVE, BLOCKED or CLOSED",
  description:
    '`CLOSED` is final: the card leaves Click to Pay by itself (`CTP_REMOVE_KIT`, after any operation in flight for the customer, even if every process dies right after the answer) and never enrols again. `BLOCKED` refuses new enrolments of the card (`409 CARD_NOT_ACTIVE`) until it is `ACTIVE` again; it stays on Click to Pay meanwhile. Setting the status it has changes nothing. A `CLOSED` card cannot be reopened (`409 INVALID_STATE`).',
  request: {
    params: kitPathSchema,
    headers: idempotencyHeadersSchema,
    body: { required: true, content: json(kitStatusBodySchema) },
  },
  responses: {
    200: { description: 'The card with its status', content: json(kitAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

const putEntityStatusRoute = createRoute({
  method: 'put',
  path: '/v1/entities/{entityId}/status',
  operationId: 'putEntityStatus',
  tags,
  summary: "Set a customer's status: ACTIVE or CLOSED",
  description:
    '`CLOSED` removes the customer from Click to Pay with all its cards by itself (`CTP_REMOVE_ENTITY`, after any operation in flight for it, even if every process dies right after the answer), and refuses enrolments (`409 CUSTOMER_NOT_ACTIVE`) until it is `ACTIVE` again; reopening enrols nothing by itself.',
  request: {
    params: entityPathSchema,
    headers: idempotencyHeadersSchema,
    body: { required: true, content: json(entityStatusBodySchema) },
  },
  responses: {
    200: { description: 'The customer with its status', content: json(entityAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

/**
 * The `Idempotency-Key` of a record change (same semantics as the operation routes): the same key
 * with the same request answers the first answer again (`Idempotent-Replayed: true`).
 */
async function idempotencyOf(
  c: Context<ApiEnv>,
  orm: Orm,
  pepper: string,
  key: string | undefined,
): Promise<Idempotency | undefined> {
  return key === undefined ? undefined : { key, actor: await actorOf(c, orm, pepper) };
}

function answered<T>(c: Context<ApiEnv>, { answer, replayed }: { answer: T; replayed: boolean }): T {
  if (replayed) c.header('Idempotent-Replayed', 'true');
  return answer;
}

const replaceKitRoute = createRoute({
  method: 'post',
  path: '/v1/entities/{entityId}/kits/{kitNo}/replace',
  operationId: 'replaceKit',
  tags,
  summary: 'Replace a card: create the new one, close the old one, move Click to Pay to the new one',
  description:
    "The old card becomes `CLOSED` and the new one is created (`nameOnCard` defaults to the old card's) in one transaction. If the old card is on Click to Pay, a plan moves the network to the new card by itself, each step an ordinary operation with its notification: for `LOST_STOLEN` the old card is removed first, then the new one added; for `REISSUE`, `EXPIRY` and `DAMAGED` the new one is added first, then the old one removed. A failed step is retried (`REPLACEMENT_STEP_ATTEMPTS`, `REPLACEMENT_RETRY_DELAY_MS` apart); a plan that cannot finish ends `FAILED` and says which card is where (`GET …/kits/{kitNo}/replacement`). Refused, writing nothing: a `newKitNo` the tenant already has (`409 KIT_ALREADY_EXISTS`), a `CLOSED` card (`409 CARD_NOT_ACTIVE`), a `CLOSED` customer (`409 CUSTOMER_NOT_ACTIVE`), a PAN that fails Luhn or a reason outside the list (`400`).",
  request: {
    params: kitPathSchema,
    headers: idempotencyHeadersSchema,
    body: { required: true, content: json(kitReplaceBodySchema) },
  },
  responses: {
    201: {
      description: 'The new card; `replacement` is the plan (null when the old card was not on Click to Pay)',
      content: json(kitReplacedAnswerSchema),
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
  },
});

const getReplacementRoute = createRoute({
  method: 'get',
  path: '/v1/entities/{entityId}/kits/{kitNo}/replacement',
  operationId: 'getKitReplacement',
  tags,
  summary: 'The latest replacement a card took part in (as the old or the new card), step by step',
  request: { params: kitPathSchema },
  responses: {
    200: { description: 'The plan', content: json(replacementViewSchema) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export function createCardLifecycleRoutes({
  orm,
  onKitChanged = syncOnKitChange,
  onRecordWork = queueRecordWork,
  onKitReplaced = startReplacement,
  panCipher,
  apiKeyPepper,
}: CardLifecycleRoutesDependencies) {
  return createRouter()
    .openapi(patchKitRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      const idempotency = await idempotencyOf(c, orm, apiKeyPepper, c.req.valid('header')['idempotency-key']);
      const request = { tenant: tenantOf(c), entityId, kitNo, patch: c.req.valid('json'), idempotency };
      return c.json(answered(c, await patchKit(orm.em, request, onKitChanged)), 200);
    })
    .openapi(putKitStatusRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      const { status } = c.req.valid('json');
      const idempotency = await idempotencyOf(c, orm, apiKeyPepper, c.req.valid('header')['idempotency-key']);
      const request = { tenant: tenantOf(c), entityId, kitNo, status, idempotency };
      return c.json(answered(c, await setKitStatus(orm.em, request, onRecordWork)), 200);
    })
    .openapi(putEntityStatusRoute, async (c) => {
      const { entityId } = c.req.valid('param');
      const { status } = c.req.valid('json');
      const idempotency = await idempotencyOf(c, orm, apiKeyPepper, c.req.valid('header')['idempotency-key']);
      const request = { tenant: tenantOf(c), entityId, status, idempotency };
      return c.json(answered(c, await setEntityStatus(orm.em, request, onRecordWork)), 200);
    })
    .openapi(replaceKitRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      const tenant = tenantOf(c);
      const idempotency = await idempotencyOf(c, orm, apiKeyPepper, c.req.valid('header')['idempotency-key']);
      const request = { tenant, entityId, kitNo, body: c.req.valid('json'), idempotency };
      // A replay answers the card as first answered and its plan as it stands now (an operation's
      // replay answers its current status the same way).
      const { kit, replacementId } = answered(c, await replaceKit(orm.em, panCipher, request, onKitReplaced));
      const replacement =
        replacementId === null ? null : await getReplacementById(orm.em, tenant, replacementId);
      c.header('Location', `/v1/entities/${entityId}/kits/${kit.kitNo}`);
      return c.json({ ...kit, replacement }, 201);
    })
    .openapi(getReplacementRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      return c.json(await getReplacementOfKit(orm.em, { tenant: tenantOf(c), entityId, kitNo }), 200);
    });
}

import {
  entityAnswerSchema,
  entityPathSchema,
  entityStatusBodySchema,
  kitAnswerSchema,
  kitPatchSchema,
  kitPathSchema,
  kitStatusBodySchema,
} from '@ctp/core/contracts';
import { queueRecordWork, syncOnKitChange } from '@ctp/core/operations';
import {
  type KitChangeHook,
  patchKit,
  type RecordWorkHook,
  setEntityStatus,
  setKitStatus,
} from '@ctp/core/records';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

/**
 * Card and customer lifecycle from the platform's records (platform contract, v2): changes of a
 * card or customer that start their CTP work by themselves, in the change's own transaction.
 */
export interface CardLifecycleRoutesDependencies {
  readonly orm: Orm;
  /** Runs inside a card change's transaction; by default the automatic `CTP_UPDATE_KIT`. */
  readonly onKitChanged?: KitChangeHook;
  /** Runs inside a status change's transaction; by default the queued removal of a closed record. */
  readonly onRecordWork?: RecordWorkHook;
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
  request: { params: kitPathSchema, body: { required: true, content: json(kitPatchSchema) } },
  responses: {
    200: { description: 'Changed', content: json(kitAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
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
  request: { params: kitPathSchema, body: { required: true, content: json(kitStatusBodySchema) } },
  responses: {
    200: { description: 'The card with its status', content: json(kitAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
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
  request: { params: entityPathSchema, body: { required: true, content: json(entityStatusBodySchema) } },
  responses: {
    200: { description: 'The customer with its status', content: json(entityAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

export function createCardLifecycleRoutes({
  orm,
  onKitChanged = syncOnKitChange,
  onRecordWork = queueRecordWork,
}: CardLifecycleRoutesDependencies) {
  return createRouter()
    .openapi(patchKitRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      const request = { tenant: tenantOf(c), entityId, kitNo, patch: c.req.valid('json') };
      return c.json(await patchKit(orm.em, request, onKitChanged), 200);
    })
    .openapi(putKitStatusRoute, async (c) => {
      const { entityId, kitNo } = c.req.valid('param');
      const { status } = c.req.valid('json');
      return c.json(
        await setKitStatus(orm.em, { tenant: tenantOf(c), entityId, kitNo, status }, onRecordWork),
        200,
      );
    })
    .openapi(putEntityStatusRoute, async (c) => {
      const { entityId } = c.req.valid('param');
      const { status } = c.req.valid('json');
      return c.json(
        await setEntityStatus(orm.em, { tenant: tenantOf(c), entityId, status }, onRecordWork),
        200,
      );
    });
}

import {
  batchAnswerSchema,
  batchItemAnswerSchema,
  batchItemsQuerySchema,
  batchJsonBodySchema,
  batchListQuerySchema,
  batchPathSchema,
  batchQuerySchema,
  cancelBatch,
  getBatch,
  listBatches,
  listBatchItems,
  MAX_JSON_BATCH_BYTES,
  MAX_JSON_ITEMS,
  MAX_LINE_BYTES,
  MAX_NDJSON_BYTES,
  MAX_NDJSON_LINES,
  submitBatch,
} from '@ctp/core/batches';
import type { PanCipher } from '@ctp/core/cards';
import { clientText } from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import type { Orm } from '@ctp/db';
import { createRoute, z } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';
import { spoolJson, spoolNdjson } from './batch-body.ts';
import { actorOf } from './settings.ts';

export interface BatchRoutesDependencies {
  readonly orm: Orm;
  readonly panCipher: PanCipher;
  readonly apiKeyPepper: string;
}

export const BATCHES_PATH = '/v1/ctp/batches';
export const NDJSON = 'application/x-ndjson';

const tags = ['Batches'];

/**
 * `BatchInput` by reference (the router registers it): a zod schema in the route would make Hono
 * parse the whole body before the handler runs.
 */
const BATCH_JSON_BODY_DOC = { $ref: '#/components/schemas/BatchInput' };
const BATCH_INPUT_SCHEMA = z.toJSONSchema(batchJsonBodySchema, { io: 'input' }).$defs
  ?.BatchInput as Parameters<ReturnType<typeof createRouter>['openAPIRegistry']['registerComponent']>[2];

const submitRoute = createRoute({
  method: 'post',
  path: BATCHES_PATH,
  operationId: 'submitBatch',
  tags,
  summary: 'Enrol a portfolio: up to 10,000 items as JSON, or up to 1,000,000 NDJSON lines',
  description: [
    'Each item is `{ entityId, kitNo, customer?, card? }` (the records as on the `PUT` routes, written first).',
    'Items are judged one by one: a bad one is `REJECTED` with its `reason`, the rest run.',
    `JSON: up to ${MAX_JSON_ITEMS} items and ${MAX_JSON_BATCH_BYTES} bytes. NDJSON (\`${NDJSON}\`, one item a line):`,
    `up to ${MAX_NDJSON_LINES} lines of up to ${MAX_LINE_BYTES} bytes, ${MAX_NDJSON_BYTES} bytes in all; its`,
    '`externalBatchId` is a query parameter. Both are parsed as they stream in and read to their end',
    'before anything is written: over the limits `413`, not JSON `400`, and nothing is kept.',
    'The same `externalBatchId` with the same items answers the first batch (`Idempotent-Replayed: true`).',
  ].join(' '),
  request: {
    query: batchQuerySchema,
    body: {
      required: false,
      content: {
        // Documented, not validated here: the body is parsed as it streams in (`spoolJson`).
        'application/json': { schema: BATCH_JSON_BODY_DOC },
        [NDJSON]: { schema: z.string().meta({ description: 'One BatchItemInput JSON object a line.' }) },
      },
    },
  },
  responses: {
    202: { description: 'Accepted; `Location` names the batch', content: json(batchAnswerSchema) },
    ...errorResponses(400, 401, 403, 413, 415, 422, 503),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: BATCHES_PATH,
  operationId: 'listBatches',
  tags,
  summary: "The tenant's batches, newest first",
  request: { query: batchListQuerySchema },
  responses: {
    200: {
      description: 'A page of batches',
      content: json(z.object({ items: z.array(batchAnswerSchema), nextCursor: z.string().nullable() })),
    },
    ...errorResponses(400, 401, 403, 503),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: `${BATCHES_PATH}/{batchId}`,
  operationId: 'getBatch',
  tags,
  summary: 'A batch: status, counts, rate, failures by reason',
  request: { params: batchPathSchema },
  responses: {
    200: { description: 'The batch', content: json(batchAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

const itemsRoute = createRoute({
  method: 'get',
  path: `${BATCHES_PATH}/{batchId}/items`,
  operationId: 'listBatchItems',
  tags,
  summary: "A batch's items, in submission order, optionally of one status",
  request: { params: batchPathSchema, query: batchItemsQuerySchema },
  responses: {
    200: {
      description: 'A page of items',
      content: json(z.object({ items: z.array(batchItemAnswerSchema), nextCursor: z.string().nullable() })),
    },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

const cancelRoute = createRoute({
  method: 'post',
  path: `${BATCHES_PATH}/{batchId}/cancel`,
  operationId: 'cancelBatch',
  tags,
  summary: 'Cancel: items not started become CANCELLED; started ones finish',
  request: {
    params: batchPathSchema,
    body: {
      required: false,
      content: json(z.strictObject({ reason: clientText({ max: 1_000 }).optional() })),
    },
  },
  responses: {
    200: { description: 'The batch after the cancel', content: json(batchAnswerSchema) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

/** A `Content-Length` over the form's byte limit: 413 before a byte of the body is read. */
function refuseDeclaredOversize(contentLength: string | undefined, ndjson: boolean): void {
  const max = ndjson ? MAX_NDJSON_BYTES : MAX_JSON_BATCH_BYTES;
  if (contentLength !== undefined && Number(contentLength) > max)
    throw new DomainError('PAYLOAD_TOO_LARGE', `request body is larger than ${max} bytes`);
}

export function createBatchRoutes({ orm, panCipher, apiKeyPepper }: BatchRoutesDependencies) {
  const router = createRouter();
  router.openAPIRegistry.registerComponent('schemas', 'BatchInput', BATCH_INPUT_SCHEMA);
  return router
    .openapi(submitRoute, async (c) => {
      const tenant = tenantOf(c);
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      const spoolBody = type === NDJSON ? spoolNdjson : type === 'application/json' ? spoolJson : null;
      if (spoolBody === null)
        throw new DomainError('UNSUPPORTED_MEDIA_TYPE', `request body must be application/json or ${NDJSON}`);
      refuseDeclaredOversize(c.req.header('content-length'), type === NDJSON);
      // Read to its end before anything is written (`batch-body.ts`): over the limits, nothing is kept.
      const upload = await spoolBody(c.req.raw.body);
      let submitted: Awaited<ReturnType<typeof submitBatch>>;
      try {
        submitted = await submitBatch(orm.em, panCipher, {
          tenant,
          externalBatchId: upload.externalBatchId ?? c.req.valid('query').externalBatchId,
          items: upload.items(),
        });
      } finally {
        await upload.close();
      }
      const { batch, replayed } = submitted;
      c.header('Location', `${BATCHES_PATH}/${batch.batchId}`);
      if (replayed) c.header('Idempotent-Replayed', 'true');
      c.var.logger.info(
        { batchId: batch.batchId, total: batch.counts.total, rejected: batch.counts.rejected, replayed },
        'batch accepted',
      );
      return c.json(batch, 202);
    })
    .openapi(listRoute, async (c) => {
      const { cursor, limit } = c.req.valid('query');
      return c.json(await listBatches(orm.em, tenantOf(c), { cursor, limit }), 200);
    })
    .openapi(getRoute, async (c) =>
      c.json(await getBatch(orm.em, tenantOf(c), c.req.valid('param').batchId), 200),
    )
    .openapi(itemsRoute, async (c) => {
      const { status, cursor, limit } = c.req.valid('query');
      const page = await listBatchItems(orm.em, tenantOf(c), c.req.valid('param').batchId, {
        status,
        cursor,
        limit,
      });
      return c.json(page, 200);
    })
    .openapi(cancelRoute, async (c) => {
      const { batch } = await cancelBatch(orm.em, {
        tenant: tenantOf(c),
        batchId: c.req.valid('param').batchId,
        actor: await actorOf(c, orm, apiKeyPepper),
        reason: c.req.valid('json').reason,
      });
      return c.json(batch, 200);
    });
}

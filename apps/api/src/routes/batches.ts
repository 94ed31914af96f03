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
  MAX_JSON_ITEMS,
  MAX_LINE_BYTES,
  MAX_NDJSON_LINES,
  type RawBatchItem,
  submitBatch,
} from '@ctp/core/batches';
import type { PanCipher } from '@ctp/core/cards';
import { clientText } from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import type { Orm } from '@ctp/db';
import { createRoute, z } from '@hono/zod-openapi';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';
import { actorOf } from './settings.ts';

export interface BatchRoutesDependencies {
  readonly orm: Orm;
  readonly panCipher: PanCipher;
  readonly apiKeyPepper: string;
}

export const BATCHES_PATH = '/v1/ctp/batches';
export const NDJSON = 'application/x-ndjson';

const tags = ['Batches'];

const submitRoute = createRoute({
  method: 'post',
  path: BATCHES_PATH,
  operationId: 'submitBatch',
  tags,
  summary: 'Enrol a portfolio: up to 10,000 items as JSON, or up to 1,000,000 NDJSON lines',
  description: [
    'Each item is `{ entityId, kitNo, customer?, card? }` (the records as on the `PUT` routes, written first).',
    'Items are judged one by one: a bad one is `REJECTED` with its `reason`, the rest run.',
    `NDJSON (\`${NDJSON}\`, one item a line, lines up to ${MAX_LINE_BYTES} bytes) is read as it streams in;`,
    'its `externalBatchId` is a query parameter. Over the limits: `413` and nothing is kept.',
    'The same `externalBatchId` with the same items answers the first batch (`Idempotent-Replayed: true`).',
  ].join(' '),
  request: {
    query: batchQuerySchema,
    body: {
      required: false,
      content: {
        ...json(batchJsonBodySchema),
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

const tooLarge = (message: string) => new DomainError('PAYLOAD_TOO_LARGE', message);

/** The items of a JSON body, refused whole (413) beyond the limit. */
async function* jsonItems(items: readonly unknown[]): AsyncIterable<RawBatchItem> {
  if (items.length > MAX_JSON_ITEMS) throw tooLarge(`a JSON batch holds at most ${MAX_JSON_ITEMS} items`);
  for (const value of items) yield { value };
}

/**
 * NDJSON lines as they arrive: one line in memory at a time. A line over `MAX_LINE_BYTES` is a
 * malformed item (its rest is skipped, never buffered); a line past `MAX_NDJSON_LINES` throws,
 * which rolls the batch back (413). Blank lines are not items.
 */
export async function* ndjsonItems(body: ReadableStream<Uint8Array> | null): AsyncIterable<RawBatchItem> {
  if (body === null) return;
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let line = '';
  let oversize = false;
  let lines = 0;
  const emit = function* (text: string, tooLong: boolean): Generator<RawBatchItem> {
    if (!tooLong && text.trim() === '') return;
    lines += 1;
    if (lines > MAX_NDJSON_LINES) throw tooLarge(`an NDJSON batch holds at most ${MAX_NDJSON_LINES} lines`);
    if (tooLong) {
      yield { malformed: '' };
      return;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) yield { value };
      else yield { malformed: text };
    } catch {
      yield { malformed: text };
    }
  };
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      yield* emit(oversize ? '' : line + piece, oversize || line.length + piece.length > MAX_LINE_BYTES);
      line = '';
      oversize = false;
      start = nl + 1;
    }
    if (!oversize) {
      line += text.slice(start);
      if (line.length > MAX_LINE_BYTES) {
        line = '';
        oversize = true;
      }
    }
    if (done) break;
  }
  if (oversize || line.trim() !== '') yield* emit(oversize ? '' : line, oversize);
}

export function createBatchRoutes({ orm, panCipher, apiKeyPepper }: BatchRoutesDependencies) {
  return createRouter()
    .openapi(submitRoute, async (c) => {
      const tenant = tenantOf(c);
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      let externalBatchId = c.req.valid('query').externalBatchId;
      let items: AsyncIterable<RawBatchItem>;
      if (type === NDJSON) items = ndjsonItems(c.req.raw.body);
      else if (type === 'application/json') {
        const body = c.req.valid('json') as z.infer<typeof batchJsonBodySchema>;
        externalBatchId = body.externalBatchId ?? externalBatchId;
        items = jsonItems(body.items);
      } else
        throw new DomainError('UNSUPPORTED_MEDIA_TYPE', `request body must be application/json or ${NDJSON}`);
      const { batch, replayed } = await submitBatch(orm.em, panCipher, { tenant, externalBatchId, items });
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

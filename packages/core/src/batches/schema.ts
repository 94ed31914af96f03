import { z } from 'zod';
import { maskPansIn } from '../cards/pan.ts';
import { CLIENT_TEXT_MESSAGES } from '../contracts/client-text.ts';
import { entityBodySchema, externalIdSchema, kitBodySchema } from '../contracts/platform-api.ts';

/**
 * Batches (platform contract, "Batches: enrolling a portfolio"): what a client sends and what
 * it reads back, as zod schemas the api validates with and documents from.
 */

/** Items of a JSON batch, at most. */
export const MAX_JSON_ITEMS = 10_000;
/** Lines of an NDJSON batch, at most. */
export const MAX_NDJSON_LINES = 1_000_000;
/** Bytes of one NDJSON line, at most (an item with its customer and card records is about 1 KiB). */
export const MAX_LINE_BYTES = 16 * 1024;
/** Bytes of a JSON batch body, at most (10,000 items with their records). */
export const MAX_JSON_BATCH_BYTES = MAX_JSON_ITEMS * 4 * 1024;
/**
 * Bytes of an NDJSON batch body, at most: 4 KiB a line on average, as for JSON. The upload is
 * spooled to disk before anything is written (the api's `batch-body.ts`), so the disk a spool may
 * take is bounded too.
 */
export const MAX_NDJSON_BYTES = MAX_NDJSON_LINES * 4 * 1024;

import { BATCH_ITEM_STATUSES, BATCH_STATUSES } from '../entities/ctp-batch.ts';

export { BATCH_ITEM_STATUSES, BATCH_STATUSES };
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export type BatchItemStatus = (typeof BATCH_ITEM_STATUSES)[number];

/** Why an item was refused up front (`REJECTED`) or had nothing to do (`SKIPPED`). */
export const BATCH_ITEM_REASONS = [
  'MALFORMED_LINE',
  'INVALID_ITEM',
  'LUHN_FAILED',
  'CARD_NUMBER_IN_TEXT',
  'DUPLICATE_ITEM',
  'ENTITY_NOT_FOUND',
  'KIT_NOT_FOUND',
  'BIN_NOT_ELIGIBLE',
  'CTP_NOT_ENABLED',
  'RECORD_REFUSED',
  'ALREADY_ACTIVE',
] as const;
export type BatchItemReason = (typeof BATCH_ITEM_REASONS)[number];

/** One item: the pair to enrol, optionally with the customer and card records to write first. */
export const batchItemInputSchema = z
  .strictObject({
    entityId: externalIdSchema,
    kitNo: externalIdSchema,
    customer: entityBodySchema.optional(),
    card: kitBodySchema.optional(),
  })
  .meta({ id: 'BatchItemInput' });
export type BatchItemInput = z.infer<typeof batchItemInputSchema>;

/** The JSON body; each item is judged on its own (a bad one is `REJECTED`, not the batch). */
export const batchJsonBodySchema = z
  .strictObject({
    externalBatchId: externalIdSchema.optional(),
    items: z.array(z.unknown()).meta({ description: `Up to ${MAX_JSON_ITEMS} items (BatchItemInput).` }),
  })
  .meta({ id: 'BatchInput' });

export const batchQuerySchema = z.object({ externalBatchId: externalIdSchema.optional() });

export const batchCountsSchema = z
  .object({
    total: z.number().int(),
    pending: z.number().int(),
    inProgress: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    rejected: z.number().int(),
    cancelled: z.number().int(),
  })
  .meta({ id: 'BatchCounts' });
export type BatchCounts = z.infer<typeof batchCountsSchema>;

export const batchAnswerSchema = z
  .object({
    batchId: z.uuid(),
    externalBatchId: z.string().optional(),
    status: z.enum(BATCH_STATUSES),
    counts: batchCountsSchema,
    /** Items ended per second since the batch was accepted. */
    ratePerSecond: z.number(),
    /** Failed and rejected items by reason (error code for a failure). */
    failuresByReason: z.record(z.string(), z.number().int()),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    completedAt: z.iso.datetime().optional(),
  })
  .meta({ id: 'Batch' });
export type BatchAnswer = z.infer<typeof batchAnswerSchema>;

export const batchItemAnswerSchema = z
  .object({
    seq: z.number().int(),
    entityId: z.string(),
    kitNo: z.string(),
    status: z.enum(BATCH_ITEM_STATUSES),
    operationId: z.uuid().optional(),
    reason: z.string().optional(),
    error: z.unknown().optional(),
  })
  .meta({ id: 'BatchItem' });
export type BatchItemAnswer = z.infer<typeof batchItemAnswerSchema>;

export const batchPathSchema = z.object({ batchId: z.uuid() });
export const batchItemsQuerySchema = z.object({
  status: z.enum(BATCH_ITEM_STATUSES).optional(),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'must be a cursor this api returned')
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const batchListQuerySchema = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Why a parsed item is refused: the reason code and what was wrong (paths and rules, no values). */
export function rejectionOf(error: z.ZodError): {
  reason: BatchItemReason;
  problems: { field: string; message: string }[];
} {
  // zod's messages quote what the client sent (an unknown key is named in full): masked, since
  // they are stored with the item and answered by `GET …/items`.
  const problems = error.issues.map((issue) => ({
    field: maskPansIn(issue.path.map(String).join('.')) || '(item)',
    message: maskPansIn(issue.message),
  }));
  const reason: BatchItemReason = error.issues.some(
    (issue) => issue.path.join('.') === 'card.pan' && issue.message === 'must pass the Luhn check',
  )
    ? 'LUHN_FAILED'
    : error.issues.some((issue) => issue.message === CLIENT_TEXT_MESSAGES.card)
      ? 'CARD_NUMBER_IN_TEXT'
      : 'INVALID_ITEM';
  return { reason, problems };
}

/** The pair of a refused item, where each id passes on its own (a refused id is stored as ''). */
export function idsOf(raw: unknown): { entityId: string; kitNo: string } {
  const record = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const id = (value: unknown) => {
    const parsed = externalIdSchema.safeParse(value);
    return parsed.success ? parsed.data : '';
  };
  return { entityId: id(record.entityId), kitNo: id(record.kitNo) };
}

import { z } from 'zod';
import { CTP_EVENTS } from '../lifecycle/events.ts';
import { CTP_STATUSES, OPERATION_STATUSES, TRACE_STATUSES } from '../lifecycle/statuses.ts';
import { clientText } from './client-text.ts';
import type { DataAdjustment } from './network-rules.ts';
import { externalIdSchema } from './platform-api.ts';

/**
 * Our HTTP API's CTP routes (platform contract, "CTP operations"): the bodies, headers and
 * answers, as zod schemas that validate and generate `/openapi.json`.
 */

export const kitRefBodySchema = z.strictObject({ kitNo: externalIdSchema }).meta({ id: 'KitRef' });

/**
 * `DELETE /v1/ctp/entities/{entityId}`'s optional body: `CUSTOMER_OPT_OUT` is remembered, and the
 * entity is never auto-enrolled again (an explicit registration still may).
 */
export const removeEntityBodySchema = z
  .strictObject({ reason: z.enum(['CUSTOMER_OPT_OUT']).optional() })
  .meta({ id: 'RemoveEntity' });

/** `Idempotency-Key`: optional, up to 255 visible ASCII characters, not a card number (it is stored and logged). */
export const idempotencyHeadersSchema = z.object({
  'idempotency-key': clientText(
    { max: 255, trim: false },
    z
      .string()
      .regex(/^[\x21-\x7e]{1,255}$/, { message: 'must be 1 to 255 visible ASCII characters', abort: true }),
  )
    .optional()
    .meta({ description: 'The same key with the same request answers the first answer for 24 h' }),
});

export const operationPathSchema = z.object({ operationId: z.uuid() });
export const tracePathSchema = z.object({ requestTraceId: clientText({ max: 128, trim: false }) });

const errorOfOperation = z.object({ code: z.string(), message: z.string(), details: z.string().optional() });

export const operationAcceptedSchema = z
  .object({
    operationId: z.uuid(),
    event: z.enum(CTP_EVENTS),
    entityId: z.string(),
    kitNo: z.string().optional(),
    status: z.enum(OPERATION_STATUSES),
  })
  .meta({ id: 'OperationAccepted' });
export type OperationAccepted = z.infer<typeof operationAcceptedSchema>;

export const operationViewSchema = z
  .object({
    operationId: z.uuid(),
    event: z.enum(CTP_EVENTS),
    entityId: z.string(),
    kitNo: z.string().optional(),
    status: z.enum(OPERATION_STATUSES),
    requestTraceId: z.string().optional(),
    error: errorOfOperation.optional(),
    adjustments: z
      .array(z.object({ field: z.string(), message: z.string() }) satisfies z.ZodType<DataAdjustment>)
      .optional()
      .meta({
        description:
          "What was changed in the SaaS request to meet the card network's data rules without changing meaning (a long address line wrapped, a refused character replaced); the stored record is as written",
      }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Operation' });
export type OperationView = z.infer<typeof operationViewSchema>;

export const ctpEntityViewSchema = z
  .object({
    entityId: z.string(),
    ctpEntityStatus: z.enum(CTP_STATUSES),
    clickToPayCustomerId: z.string().nullable(),
    kits: z.array(
      z.object({
        kitNo: z.string(),
        ctpKitStatus: z.enum(CTP_STATUSES),
        clickToPayPaymentInstrumentId: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'CtpEntity' });
export type CtpEntityView = z.infer<typeof ctpEntityViewSchema>;

/** The `ctp_requestIdTracking` row, with the seed's columns under camelCase names. */
export const traceViewSchema = z
  .object({
    requestTraceId: z.string(),
    entityId: z.string(),
    kitNumber: z.string().nullable(),
    event: z.enum(CTP_EVENTS),
    statusCtp: z.enum(TRACE_STATUSES),
    operationId: z.uuid(),
    error: errorOfOperation.optional(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    resolvedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'RequestTrace' });
export type TraceView = z.infer<typeof traceViewSchema>;

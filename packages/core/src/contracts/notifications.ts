import { z } from 'zod';
import { CTP_EVENTS, CTP_STATUS_CHANGED } from '../lifecycle/events.ts';
import { CTP_STATUSES } from '../lifecycle/statuses.ts';

/**
 * Notification payloads on the Redis stream `m2p.notification.all`, in the seed's shapes
 * (keys in the seed's order). Additions of ours, which the platform contract allows and
 * downstream teams asked for, come after the seed's keys:
 * - `operationId` on every outcome, so a notification can be matched to `/v1/ctp/operations/{id}`;
 * - `kitNo` on the failure of an event that names a kit (the seed's failure sample is of a
 *   registration and omits it, but a consumer cannot tell which card failed without it).
 */

const ctpStatus = z.enum(CTP_STATUSES);
const ctpEvent = z.enum(CTP_EVENTS);

export const successNotifyDataSchema = z.strictObject({
  entityId: z.string(),
  kitNo: z.string().optional(),
  requestTraceId: z.string(),
  requestStatus: z.literal('SUCCESS'),
  transactionType: ctpEvent,
  ctpEntityStatus: ctpStatus,
  ctpKitStatus: ctpStatus.optional(),
  ctpEntityId: z.string().nullable(),
  ctpKitId: z.string().nullable().optional(),
  tenant: z.string(),
  operationId: z.uuid(),
});

export const failureNotifyDataSchema = z.strictObject({
  entityId: z.string(),
  kitNo: z.string().optional(),
  requestTraceId: z.string().optional(),
  requestStatus: z.literal('FAILED'),
  transactionType: ctpEvent,
  message: z.string(),
  errorDetails: z.string(),
  tenant: z.string(),
  operationId: z.uuid(),
});

export const statusChangedNotifyDataSchema = z.strictObject({
  entityId: z.string(),
  kitNo: z.string().optional(),
  transactionType: z.literal(CTP_STATUS_CHANGED),
  ctpEntityStatus: ctpStatus.optional(),
  ctpKitStatus: ctpStatus.optional(),
  ctpEntityId: z.string().nullable(),
  ctpKitId: z.string().nullable().optional(),
  tenant: z.string(),
  occurredAt: z.iso.datetime({ offset: true }),
  /** `RECONCILED`: a reconciliation found our status apart from the network's and set it. */
  reason: z.literal('RECONCILED').optional(),
});

const envelope = <T extends z.ZodType>(transactionType: z.ZodType, data: T) =>
  z.strictObject({ business: z.string(), transactionType, serverNotifyData: data });

export const successNotificationSchema = envelope(ctpEvent, successNotifyDataSchema);
export const failureNotificationSchema = envelope(ctpEvent, failureNotifyDataSchema);
export const statusChangedNotificationSchema = envelope(
  z.literal(CTP_STATUS_CHANGED),
  statusChangedNotifyDataSchema,
);

/** The end of a batch (platform contract, "Batches"): one entry per batch. */
export const CTP_BATCH_COMPLETED = 'CTP_BATCH_COMPLETED' as const;
const count = z.number().int();
export const batchCompletedNotificationSchema = envelope(
  z.literal(CTP_BATCH_COMPLETED),
  z.strictObject({
    batchId: z.uuid(),
    externalBatchId: z.string().optional(),
    status: z.enum(['COMPLETED', 'CANCELLED', 'RUNNING']),
    counts: z.strictObject({
      total: count,
      pending: count,
      inProgress: count,
      succeeded: count,
      failed: count,
      skipped: count,
      rejected: count,
      cancelled: count,
    }),
    tenant: z.string(),
  }),
);

export const notificationPayloadSchema = z.union([
  successNotificationSchema,
  failureNotificationSchema,
  statusChangedNotificationSchema,
]);

export type SuccessNotification = z.infer<typeof successNotificationSchema>;
export type FailureNotification = z.infer<typeof failureNotificationSchema>;
export type StatusChangedNotification = z.infer<typeof statusChangedNotificationSchema>;
export type BatchCompletedNotification = z.infer<typeof batchCompletedNotificationSchema>;
/** An operation's outcome or a network change. */
export type NotificationPayload = z.infer<typeof notificationPayloadSchema>;
/** Every payload the stream carries: those, and the end of a batch. */
export type StreamPayload = NotificationPayload | BatchCompletedNotification;

/** The stream every outcome is appended to (platform contract). */
export const NOTIFICATION_STREAM = 'm2p.notification.all';

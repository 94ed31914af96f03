import type { z } from 'zod';
import {
  type BatchCompletedNotification,
  batchCompletedNotificationSchema,
  CTP_BATCH_COMPLETED,
  type FailureNotification,
  failureNotificationSchema,
  type StatusChangedNotification,
  type SuccessNotification,
  statusChangedNotificationSchema,
  successNotificationSchema,
} from '../contracts/notifications.ts';
import { CTP_STATUS_CHANGED } from '../lifecycle/events.ts';
import { scrubText } from '../logging/redaction.ts';

/** A notification as a consumer sees it: the payload, validated, tagged with its shape. */
export type Notification =
  | { readonly kind: 'success'; readonly payload: SuccessNotification }
  | { readonly kind: 'failure'; readonly payload: FailureNotification }
  | { readonly kind: 'status_changed'; readonly payload: StatusChangedNotification }
  | { readonly kind: 'batch_completed'; readonly payload: BatchCompletedNotification };

export type NotificationKind = Notification['kind'];

export type DecodedEntry =
  | ({ readonly ok: true; readonly notificationId: string } & Notification)
  | {
      readonly ok: false;
      /** Why the entry is not a notification; safe to log (scrubbed, names no values). */
      readonly reason: string;
      readonly notificationId: string | null;
    };

/**
 * Reads one stream entry's fields (`notificationId`, `payload` as the publisher writes them).
 * The shape is chosen from the payload's own markers (status-change transaction type, then
 * `requestStatus`) so that a bad payload gets the errors of the schema it meant to follow,
 * not a union's "matched none of three".
 */
export function decodeNotificationEntry(fields: ReadonlyMap<string, string> | null): DecodedEntry {
  if (fields === null)
    return { ok: false, reason: 'entry was trimmed from the stream', notificationId: null };
  const notificationId = fields.get('notificationId') || null;
  if (notificationId === null) return { ok: false, reason: 'missing field notificationId', notificationId };
  const raw = fields.get('payload');
  if (raw === undefined) return { ok: false, reason: 'missing field payload', notificationId };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'payload is not valid JSON', notificationId };
  }
  const invalid = (kind: NotificationKind, error: z.ZodError): DecodedEntry => ({
    ok: false,
    reason: `payload does not match the ${kind} schema: ${describe(error)}`,
    notificationId,
  });
  switch (kindOf(json)) {
    case 'batch_completed': {
      const parsed = batchCompletedNotificationSchema.safeParse(json);
      if (!parsed.success) return invalid('batch_completed', parsed.error);
      return { ok: true, notificationId, kind: 'batch_completed', payload: parsed.data };
    }
    case 'status_changed': {
      const parsed = statusChangedNotificationSchema.safeParse(json);
      if (!parsed.success) return invalid('status_changed', parsed.error);
      return { ok: true, notificationId, kind: 'status_changed', payload: parsed.data };
    }
    case 'failure': {
      const parsed = failureNotificationSchema.safeParse(json);
      if (!parsed.success) return invalid('failure', parsed.error);
      return { ok: true, notificationId, kind: 'failure', payload: parsed.data };
    }
    case 'success': {
      const parsed = successNotificationSchema.safeParse(json);
      if (!parsed.success) return invalid('success', parsed.error);
      return { ok: true, notificationId, kind: 'success', payload: parsed.data };
    }
  }
}

function kindOf(json: unknown): NotificationKind {
  if (typeof json !== 'object' || json === null) return 'success';
  const envelope = json as { transactionType?: unknown; serverNotifyData?: unknown };
  if (envelope.transactionType === CTP_STATUS_CHANGED) return 'status_changed';
  if (envelope.transactionType === CTP_BATCH_COMPLETED) return 'batch_completed';
  const data = envelope.serverNotifyData;
  if (
    typeof data === 'object' &&
    data !== null &&
    (data as { requestStatus?: unknown }).requestStatus === 'FAILED'
  ) {
    return 'failure';
  }
  return 'success';
}

/** Zod's issues name paths, expected types and unknown keys, never the values; scrubbed anyway. */
function describe(error: z.ZodError): string {
  const issues = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  const more = error.issues.length > 5 ? `; and ${error.issues.length - 5} more` : '';
  return scrubText(`${issues.join('; ')}${more}`);
}

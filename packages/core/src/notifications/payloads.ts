import type {
  FailureNotification,
  StatusChangedNotification,
  SuccessNotification,
} from '../contracts/notifications.ts';
import { CTP_STATUS_CHANGED, type CtpEvent, eventNamesKit } from '../lifecycle/events.ts';
import type { CtpStatus } from '../lifecycle/statuses.ts';

/**
 * Builders of the seed's notification payloads. Keys are written in the seed's order, and a key
 * that does not apply to the event (a kit for an entity-level event) is left out rather than
 * sent as null. They take ids and statuses only: no card data can reach a notification.
 */

interface OutcomeBase {
  readonly tenant: string;
  readonly event: CtpEvent;
  readonly operationId: string;
  readonly entityId: string;
  readonly kitNo?: string | null;
}

export interface SuccessInput extends OutcomeBase {
  readonly requestTraceId: string;
  readonly ctpEntityStatus: CtpStatus;
  readonly ctpKitStatus?: CtpStatus | null;
  readonly clickToPayCustomerId: string | null;
  readonly clickToPayPaymentInstrumentId?: string | null;
}

export interface FailureInput extends OutcomeBase {
  /** Absent when the SaaS refused the request before creating a trace. */
  readonly requestTraceId?: string | null;
  /** The SaaS's (or our) human message, e.g. "Request Rejected". */
  readonly errorMessage: string;
  readonly errorDetails: string;
}

const kitOf = (input: OutcomeBase): string | undefined =>
  eventNamesKit(input.event) && input.kitNo ? input.kitNo : undefined;

export function buildSuccessNotification(input: SuccessInput): SuccessNotification {
  const kitNo = kitOf(input);
  return {
    business: input.tenant,
    transactionType: input.event,
    serverNotifyData: {
      entityId: input.entityId,
      ...(kitNo === undefined ? {} : { kitNo }),
      requestTraceId: input.requestTraceId,
      requestStatus: 'SUCCESS',
      transactionType: input.event,
      ctpEntityStatus: input.ctpEntityStatus,
      ...(kitNo === undefined || !input.ctpKitStatus ? {} : { ctpKitStatus: input.ctpKitStatus }),
      ctpEntityId: input.clickToPayCustomerId,
      ...(kitNo === undefined ? {} : { ctpKitId: input.clickToPayPaymentInstrumentId ?? null }),
      tenant: input.tenant,
      operationId: input.operationId,
    },
  };
}

export function buildFailureNotification(input: FailureInput): FailureNotification {
  const kitNo = kitOf(input);
  return {
    business: input.tenant,
    transactionType: input.event,
    serverNotifyData: {
      entityId: input.entityId,
      ...(kitNo === undefined ? {} : { kitNo }),
      ...(input.requestTraceId ? { requestTraceId: input.requestTraceId } : {}),
      requestStatus: 'FAILED',
      transactionType: input.event,
      message: `CTP FAILURE: ${input.errorMessage}`,
      errorDetails: input.errorDetails,
      tenant: input.tenant,
      operationId: input.operationId,
    },
  };
}

export interface StatusChangedInput {
  readonly tenant: string;
  readonly entityId: string;
  readonly kitNo?: string | null;
  readonly ctpEntityStatus?: CtpStatus;
  readonly ctpKitStatus?: CtpStatus;
  readonly clickToPayCustomerId: string | null;
  readonly clickToPayPaymentInstrumentId?: string | null;
  readonly occurredAt: string;
  readonly reason?: 'RECONCILED';
}

export function buildStatusChangedNotification(input: StatusChangedInput): StatusChangedNotification {
  return {
    business: input.tenant,
    transactionType: CTP_STATUS_CHANGED,
    serverNotifyData: {
      entityId: input.entityId,
      ...(input.kitNo ? { kitNo: input.kitNo } : {}),
      transactionType: CTP_STATUS_CHANGED,
      ...(input.ctpEntityStatus ? { ctpEntityStatus: input.ctpEntityStatus } : {}),
      ...(input.ctpKitStatus ? { ctpKitStatus: input.ctpKitStatus } : {}),
      ctpEntityId: input.clickToPayCustomerId,
      ...(input.kitNo ? { ctpKitId: input.clickToPayPaymentInstrumentId ?? null } : {}),
      tenant: input.tenant,
      occurredAt: input.occurredAt,
      ...(input.reason ? { reason: input.reason } : {}),
    },
  };
}

import { LockMode } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { NotificationPayload } from '../contracts/notifications.ts';
import type { TraceResult } from '../contracts/saas.ts';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { CtpRequestIdTracking } from '../entities/ctp-request-id-tracking.ts';
import { CtpWebhookInbox } from '../entities/ctp-webhook-inbox.ts';
import type { TerminalTraceStatus } from '../lifecycle/statuses.ts';
import {
  type CtpSnapshot,
  planOutcome,
  resolveTrace as resolveTraceStatus,
} from '../lifecycle/transitions.ts';
import { buildFailureNotification, buildSuccessNotification } from '../notifications/payloads.ts';
import { schedulePromotionIfPending } from './automatic-sync.ts';
import { applySnapshot, type CtpRecords, loadCtpRecords, recordHistory, snapshotOf } from './ctp-records.ts';
import { moveOperation } from './operation-status.ts';
import { addNotificationToOutbox, wakeRelay } from './outbox.ts';

/** A terminal result for a trace, from the webhook, the poller, or the poller's deadline. */
export interface TraceOutcome {
  readonly requestTraceId: string;
  readonly status: TerminalTraceStatus;
  readonly clickToPayCustomerId?: string | undefined;
  readonly clickToPayPaymentInstrumentId?: string | undefined;
  readonly error?:
    | { readonly code: string; readonly message: string; readonly details?: string | undefined }
    | undefined;
}

export type ResolveResult = 'resolved' | 'already-terminal' | 'trace-not-found';

export function outcomeOf(result: TraceResult): TraceOutcome | null {
  if (result.status === 'IN_PROGRESS') return null;
  return {
    requestTraceId: result.requestTraceId,
    status: result.status,
    clickToPayCustomerId: result.clickToPayCustomerId,
    clickToPayPaymentInstrumentId: result.clickToPayPaymentInstrumentId,
    error: result.error,
  };
}

/**
 * The one resolve step of both paths (webhook and poller), in one transaction: the trace turns
 * terminal, the touched records take their outcome statuses (a failure reverts them), the
 * network's ids are stored, the operation ends and its notification is written to the outbox.
 * The entity lock serialises the two paths; the second finds the trace terminal (the lifecycle
 * refuses to move it) and changes nothing. `webhookId` marks the inbox row processed in the
 * same commit.
 */
export async function resolveTraceOutcome(
  em: EntityManager,
  tenant: string,
  outcome: TraceOutcome,
  webhookId?: string,
): Promise<ResolveResult> {
  return em.fork().transactional(async (tx) => {
    const peek = await tx.findOne(CtpRequestIdTracking, { tenant, requestTraceId: outcome.requestTraceId });
    if (peek === null) return 'trace-not-found';
    const records = await loadCtpRecords(tx, tenant, peek.entityId, { lock: true });
    const trace = await tx.findOne(
      CtpRequestIdTracking,
      { pkey: peek.pkey },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (trace === null) return 'trace-not-found';
    if (webhookId !== undefined) await markWebhookProcessed(tx, webhookId);
    const moved = resolveTraceStatus(trace.statusCtp, outcome.status);
    if (!moved.ok) return 'already-terminal';

    const operation = await tx.findOneOrFail(CtpOperation, { id: trace.operation.id }, { refresh: true });
    recordHistory(
      tx,
      trace,
      { record: 'trace', kitNo: trace.kitNumber ?? null, from: trace.statusCtp, to: moved.value },
      {
        cause: `${operation.event} ${outcome.status}${outcome.error ? `: ${outcome.error.code}` : ''}`,
        operationId: operation.id,
        requestTraceId: trace.requestTraceId,
      },
    );
    trace.statusCtp = moved.value;
    trace.resolvedAt = new Date();
    trace.nextPollAt = null;
    if (outcome.status === 'FAILED') {
      const error = outcome.error ?? { code: 'FAILED', message: 'Request Failed' };
      trace.errorCode = operation.errorCode = error.code;
      trace.errorMessage = operation.errorMessage = error.message;
      trace.errorDetails = operation.errorDetails = error.details ?? error.code;
    }
    moveOperation(operation, outcome.status);

    let after: CtpSnapshot = { entity: 'UNREGISTERED', kits: {} };
    if (records !== null && operation.statusBefore != null) {
      after = planOutcome(operation.event, outcome.status, operation.statusBefore, snapshotOf(records));
      applySnapshot(tx, records, after, {
        cause: `${operation.event} ${outcome.status}`,
        operationId: operation.id,
        requestTraceId: trace.requestTraceId,
      });
      if (outcome.status === 'SUCCESS') storeNetworkIds(records, operation.kitNumber ?? undefined, outcome);
    }
    // The entity is free again: an automatic update waiting for it may start.
    await schedulePromotionIfPending(tx, tenant, operation.entityId);
    addNotificationToOutbox(tx, {
      tenant,
      notificationId: operation.id,
      operationId: operation.id,
      payload: notificationFor(operation, trace.requestTraceId, outcome, after, records),
    });
    await tx.flush();
    await wakeRelay(tx);
    return 'resolved';
  });
}

export async function markWebhookProcessed(tx: EntityManager, webhookId: string): Promise<void> {
  await tx.nativeUpdate(CtpWebhookInbox, { webhookId, processedAt: null }, { processedAt: new Date() });
}

function storeNetworkIds(records: CtpRecords, kitNo: string | undefined, outcome: TraceOutcome): void {
  if (outcome.clickToPayCustomerId !== undefined && records.customer !== null) {
    records.customer.clickToPayCustomerId = outcome.clickToPayCustomerId;
  }
  const payment = kitNo === undefined ? undefined : records.kits.get(kitNo)?.payment;
  if (outcome.clickToPayPaymentInstrumentId !== undefined && payment) {
    payment.clickToPayPaymentInstumentId = outcome.clickToPayPaymentInstrumentId;
  }
}

function notificationFor(
  operation: CtpOperation,
  requestTraceId: string,
  outcome: TraceOutcome,
  after: CtpSnapshot,
  records: CtpRecords | null,
): NotificationPayload {
  const kitNo = operation.kitNumber ?? null;
  const base = {
    tenant: operation.tenant,
    event: operation.event,
    operationId: operation.id,
    entityId: operation.entityId,
    kitNo,
  };
  if (outcome.status === 'FAILED') {
    return buildFailureNotification({
      ...base,
      requestTraceId,
      errorMessage: operation.errorMessage ?? 'Request Failed',
      errorDetails: operation.errorDetails ?? '',
    });
  }
  const payment = kitNo === null ? undefined : records?.kits.get(kitNo)?.payment;
  return buildSuccessNotification({
    ...base,
    requestTraceId,
    ctpEntityStatus: after.entity,
    ctpKitStatus: kitNo === null ? null : (after.kits[kitNo] ?? payment?.ctpKitStatus ?? null),
    clickToPayCustomerId: records?.customer?.clickToPayCustomerId ?? null,
    clickToPayPaymentInstrumentId: payment?.clickToPayPaymentInstumentId ?? null,
  });
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { NotificationPayload } from '../contracts/notifications.ts';
import type { TraceResult } from '../contracts/saas.ts';
import type { TerminalTraceStatus } from '../lifecycle/statuses.ts';
import {
  type CtpSnapshot,
  planOutcome,
  resolveTrace as resolveTraceStatus,
} from '../lifecycle/transitions.ts';
import { buildFailureNotification, buildSuccessNotification } from '../notifications/payloads.ts';
import { promotionOutboxRow } from './automatic-sync.ts';
import { snapshotOf } from './ctp-records.ts';
import {
  type Aggregate,
  lockEntityOfTrace,
  type NetworkIds,
  type OperationRow,
  readTraceForResolve,
  StepWrites,
  type TraceForResolve,
  traceForResolveFrom,
} from './lifecycle-store.ts';
import { outboxNotificationRow } from './outbox.ts';
import { sharedTransaction } from './shared-transaction.ts';
import type { Statement, StepSession } from './sql-session.ts';

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
 * same commit. Four statements: lock, read, write (one statement of CTEs), commit. The writes
 * are guarded by the trace still being `IN_PROGRESS` and the operation still having the status
 * read: a writer that moved either first leaves this step without effect, and it runs again
 * from a fresh read (`StepWrites`).
 */
export async function resolveTraceOutcome(
  em: EntityManager,
  tenant: string,
  outcome: TraceOutcome,
  webhookId?: string,
  /** Statements that commit only with a resolved trace (an operator's audit row), in its transaction. */
  commitWithResolved: readonly Statement[] = [],
): Promise<ResolveResult> {
  return sharedTransaction(em, async (session) => {
    const { found } = await readTraceUnderLock(session, tenant, outcome.requestTraceId);
    if (found === null) return 'trace-not-found';
    const { result, writes } = resolveWrites(found, tenant, outcome, webhookId);
    await session.run([...writes.statements(), ...(result === 'resolved' ? commitWithResolved : [])], {
      commit: true,
    });
    return result;
  });
}

/**
 * A resolve's first round trip: the lock of the trace's entity, the trace with its operation and
 * records (null: no such trace of `tenant`), and the rows of `also`, sent with them.
 */
export async function readTraceUnderLock(
  session: StepSession,
  tenant: string,
  requestTraceId: string,
  also: readonly Statement[] = [],
): Promise<{ found: TraceForResolve | null; also: unknown[][] }> {
  const [, read, ...rest] = await session.run([
    lockEntityOfTrace(tenant, requestTraceId),
    readTraceForResolve(tenant, requestTraceId),
    ...also,
  ]);
  return { found: traceForResolveFrom(read, tenant, requestTraceId), also: rest };
}

/**
 * What resolving a trace read under its entity's lock writes (the lifecycle decides): the trace
 * terminal, the records at their outcome statuses, the operation ended, its notification (and a
 * waiting automatic update's promotion) in the outbox, the inbox row of `webhookId` processed.
 * A trace already terminal writes only the last.
 */
export function resolveWrites(
  { trace, operation, records }: TraceForResolve,
  tenant: string,
  outcome: TraceOutcome,
  webhookId?: string,
): { result: 'resolved' | 'already-terminal'; writes: StepWrites } {
  const writes = new StepWrites();
  if (webhookId !== undefined) writes.markWebhookProcessed(webhookId);
  const moved = resolveTraceStatus(trace.statusCtp, outcome.status);
  if (!moved.ok) return { result: 'already-terminal', writes };

  const failure =
    outcome.status === 'FAILED'
      ? {
          code: outcome.error?.code ?? 'FAILED',
          message: outcome.error?.message ?? 'Request Failed',
          details: outcome.error?.details ?? outcome.error?.code ?? 'FAILED',
        }
      : null;
  const why = {
    cause: `${operation.event} ${outcome.status}`,
    operationId: operation.id,
    requestTraceId: trace.requestTraceId,
  };
  writes.history(
    trace,
    { record: 'trace', kitNo: trace.kitNumber, from: trace.statusCtp, to: moved.value },
    { ...why, cause: `${why.cause}${failure ? `: ${failure.code}` : ''}` },
  );
  writes.resolveTrace(trace.pkey, moved.value, failure);
  writes.finishOperation(operation, outcome.status, failure);

  const ids: NetworkIds =
    outcome.status === 'SUCCESS'
      ? {
          clickToPayCustomerId: outcome.clickToPayCustomerId,
          kitNo: operation.kitNumber ?? undefined,
          clickToPayPaymentInstrumentId: outcome.clickToPayPaymentInstrumentId,
        }
      : {};
  let after: CtpSnapshot = { entity: 'UNREGISTERED', kits: {} };
  if (records !== null && operation.statusBefore != null) {
    after = planOutcome(operation.event, outcome.status, operation.statusBefore, snapshotOf(records));
    writes.applySnapshot(records, after, why, ids);
  }
  // The entity is free again: an automatic update waiting for it may start.
  if (records?.syncPending) writes.outbox(promotionOutboxRow(tenant, operation.entityId));
  writes.outbox(
    outboxNotificationRow({
      tenant,
      notificationId: operation.id,
      operationId: operation.id,
      payload: notificationFor(operation, trace.requestTraceId, failure, after, records, ids),
      resolution: { event: operation.event, status: outcome.status, createdAt: trace.createdAt },
    }),
  );
  return { result: 'resolved', writes };
}

function notificationFor(
  operation: OperationRow,
  requestTraceId: string,
  failure: { message: string; details: string } | null,
  after: CtpSnapshot,
  records: Aggregate | null,
  ids: NetworkIds,
): NotificationPayload {
  const kitNo = operation.kitNumber ?? null;
  const base = {
    tenant: operation.tenant,
    event: operation.event,
    operationId: operation.id,
    entityId: operation.entityId,
    kitNo,
    requestTraceId,
  };
  if (failure !== null) {
    return buildFailureNotification({
      ...base,
      errorMessage: failure.message,
      errorDetails: failure.details,
    });
  }
  const payment = kitNo === null ? undefined : records?.kits.get(kitNo)?.payment;
  return buildSuccessNotification({
    ...base,
    ctpEntityStatus: after.entity,
    ctpKitStatus: kitNo === null ? null : (after.kits[kitNo] ?? payment?.ctpKitStatus ?? null),
    clickToPayCustomerId:
      records === null ? null : (ids.clickToPayCustomerId ?? records.customer?.clickToPayCustomerId ?? null),
    clickToPayPaymentInstrumentId:
      payment === undefined
        ? null
        : (ids.clickToPayPaymentInstrumentId ?? payment?.clickToPayPaymentInstumentId ?? null),
  });
}

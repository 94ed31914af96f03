import { LockMode } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { planOutcome } from '../lifecycle/transitions.ts';
import { buildFailureNotification } from '../notifications/payloads.ts';
import { schedulePromotionIfPending } from './automatic-sync.ts';
import { applySnapshot, loadCtpRecords, snapshotOf } from './ctp-records.ts';
import { moveOperation } from './operation-status.ts';
import { addNotificationToOutbox, wakeRelay } from './outbox.ts';

export interface OperationFailure {
  readonly code: string;
  readonly message: string;
  readonly details: string;
}

/**
 * Fails an operation the SaaS never accepted (a permanent refusal at submission, or a request we
 * could not build): statuses go back to what they were, the operation says why, and the failure
 * is announced. A no-op unless the operation is still `QUEUED`.
 */
export async function failQueuedOperation(
  em: EntityManager,
  operationId: string,
  failure: OperationFailure,
): Promise<boolean> {
  return em.fork().transactional(async (tx) => {
    const peek = await tx.findOne(CtpOperation, { id: operationId });
    if (peek === null || peek.status !== 'QUEUED') return false;
    const records = await loadCtpRecords(tx, peek.tenant, peek.entityId, { lock: true });
    const operation = await tx.findOne(
      CtpOperation,
      { id: operationId },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (operation === null || operation.status !== 'QUEUED') return false;
    if (records !== null && operation.statusBefore != null) {
      applySnapshot(
        tx,
        records,
        planOutcome(operation.event, 'FAILED', operation.statusBefore, snapshotOf(records)),
        { cause: `${operation.event} FAILED`, operationId: operation.id },
      );
    }
    moveOperation(operation, 'FAILED');
    await schedulePromotionIfPending(tx, operation.tenant, operation.entityId);
    operation.errorCode = failure.code;
    operation.errorMessage = failure.message;
    operation.errorDetails = failure.details;
    addNotificationToOutbox(tx, {
      tenant: operation.tenant,
      notificationId: operation.id,
      operationId: operation.id,
      payload: buildFailureNotification({
        tenant: operation.tenant,
        event: operation.event,
        operationId: operation.id,
        entityId: operation.entityId,
        kitNo: operation.kitNumber ?? null,
        errorMessage: failure.message,
        errorDetails: failure.details,
      }),
    });
    await tx.flush();
    await wakeRelay(tx);
    return true;
  });
}

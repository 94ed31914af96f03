import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { planOutcome } from '../lifecycle/transitions.ts';
import { buildFailureNotification } from '../notifications/payloads.ts';
import { promotionOutboxRow } from './automatic-sync.ts';
import { snapshotOf } from './ctp-records.ts';
import {
  lockEntityOfOperation,
  operationForStepFrom,
  readOperationForStep,
  StepWrites,
} from './lifecycle-store.ts';
import { outboxNotificationRow } from './outbox.ts';
import { SqlSession } from './sql-session.ts';

export interface OperationFailure {
  readonly code: string;
  readonly message: string;
  readonly details: string;
}

/**
 * Fails an operation the SaaS never accepted (a permanent refusal at submission, or a request we
 * could not build): statuses go back to what they were, the operation says why, and the failure
 * is announced. A no-op unless the operation is still `QUEUED`. Under the entity lock, like
 * every lifecycle step.
 */
export async function failQueuedOperation(
  em: EntityManager,
  operationId: string,
  failure: OperationFailure,
): Promise<boolean> {
  return SqlSession.transaction(em, async (session) => {
    const [, read] = await session.run([
      lockEntityOfOperation(operationId),
      readOperationForStep(operationId),
    ]);
    const found = operationForStepFrom(read);
    if (found === null || found.operation.status !== 'QUEUED') return false;
    const { operation, records } = found;
    const writes = new StepWrites();
    if (records !== null && operation.statusBefore != null) {
      writes.applySnapshot(
        records,
        planOutcome(operation.event, 'FAILED', operation.statusBefore, snapshotOf(records)),
        { cause: `${operation.event} FAILED`, operationId: operation.id },
      );
    }
    writes.finishOperation(operation, 'FAILED', failure);
    // The entity is free again: an automatic update waiting for it may start.
    if (records?.syncPending) writes.outbox(promotionOutboxRow(operation.tenant, operation.entityId));
    writes.outbox(
      outboxNotificationRow({
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
      }),
    );
    await session.run(writes.statements(), { commit: true });
    return true;
  });
}

import { LockMode } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { CtpRequestIdTracking } from '../entities/ctp-request-id-tracking.ts';
import { recordHistory } from './ctp-records.ts';
import { moveOperation } from './operation-status.ts';

/**
 * Stores the SaaS's `202`: the `ctp_requestIdTracking` row (`IN_PROGRESS`, `request_trace_ID`)
 * and the operation moved to `IN_PROGRESS`. Runs again harmlessly: a retried submission gets
 * the same trace id back (same `Idempotency-Key`), and a second recording finds the operation
 * no longer `QUEUED` and changes nothing. The first poll is scheduled after `firstPollAfterMs`,
 * so the webhook normally wins and the poller is the safety net.
 */
export async function recordAccepted(
  em: EntityManager,
  input: { operationId: string; requestTraceId: string; firstPollAfterMs: number },
): Promise<boolean> {
  return em.fork().transactional(async (tx) => {
    const operation = await tx.findOne(
      CtpOperation,
      { id: input.operationId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (operation === null || operation.status !== 'QUEUED') return false;
    moveOperation(operation, 'IN_PROGRESS');
    operation.requestTraceId = input.requestTraceId;
    operation.attempts += 1;
    recordHistory(
      tx,
      operation,
      { record: 'trace', kitNo: operation.kitNumber ?? null, from: null, to: 'IN_PROGRESS' },
      {
        cause: `${operation.event} accepted by the SaaS`,
        operationId: operation.id,
        requestTraceId: input.requestTraceId,
      },
    );
    tx.create(CtpRequestIdTracking, {
      tenant: operation.tenant,
      requestTraceId: input.requestTraceId,
      entityId: operation.entityId,
      kitNumber: operation.kitNumber,
      event: operation.event,
      statusCtp: 'IN_PROGRESS',
      operation,
      errorCode: null,
      errorMessage: null,
      errorDetails: null,
      nextPollAt: new Date(Date.now() + input.firstPollAfterMs),
      resolvedAt: null,
    });
    return true;
  });
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { Kit } from '../entities/kit.ts';
import type { SaasClient } from '../saas/client.ts';
import { SaasError } from '../saas/errors.ts';
import { loadCtpRecords } from './ctp-records.ts';
import { failQueuedOperation } from './fail-operation.ts';
import { recordAccepted } from './record-accepted.ts';
import {
  buildSaasRequest,
  frozenRequestSendsCard,
  thawSaasRequest,
  UnbuildableRequest,
} from './saas-request.ts';

export interface SubmitDependencies {
  readonly em: EntityManager;
  readonly saas: SaasClient;
  /** Decrypts a kit's PAN; called only for events that send a card. */
  readonly decryptPan: (kit: Kit) => string;
  readonly firstPollAfterMs: number;
}

export type SubmitResult = 'submitted' | 'not-queued' | 'failed';

export class IdempotencyConflict extends Error {
  override readonly name = 'IdempotencyConflict';

  constructor(operationId: string, detail: string) {
    super(
      `operation ${operationId}: the SaaS refused our request as a reuse of its Idempotency-Key (${detail})`,
    );
  }
}

/**
 * Sends a `QUEUED` operation to the SaaS with `Idempotency-Key` = operation id and records the
 * `202`. A permanent refusal fails the operation (statuses revert, failure notification); a
 * transient one throws the `SaasError` so the job queue retries with the same key, which the
 * SaaS answers with the first answer: the work is never started twice. If the process dies
 * after the SaaS accepted but before the `202` is recorded, the retry records it.
 */
export async function submitOperation(deps: SubmitDependencies, operationId: string): Promise<SubmitResult> {
  const em = deps.em.fork();
  const operation = await em.findOne(CtpOperation, { id: operationId });
  if (operation === null || operation.status !== 'QUEUED') return 'not-queued';
  let accepted: Awaited<ReturnType<SaasClient['submitRequest']>>;
  try {
    const request = await requestOf(em, operation, deps.decryptPan);
    accepted = await deps.saas.submitRequest(operation.tenant, request, { idempotencyKey: operation.id });
  } catch (error) {
    if (error instanceof UnbuildableRequest) {
      await failQueuedOperation(deps.em, operationId, {
        code: 'UNBUILDABLE_REQUEST',
        message: 'Request Not Sent',
        details: error.message,
      });
      return 'failed';
    }
    if (error instanceof SaasError && error.code === 'IDEMPOTENCY_KEY_REUSED') {
      // The SaaS holds other work under this operation's key: its outcome is unknown, so the
      // operation must not fail (statuses would revert while the network may have done it).
      // Retried with backoff and visible as stuck until an operator looks at it.
      throw new IdempotencyConflict(operationId, error.message);
    }
    if (error instanceof SaasError && !error.retryable) {
      await failQueuedOperation(deps.em, operationId, {
        code: error.code,
        message: error.code === 'CONFLICT' ? 'Request Conflicts With Network State' : 'Request Refused',
        details: error.details === undefined ? error.message : JSON.stringify(error.details),
      });
      return 'failed';
    }
    throw error;
  }
  await recordAccepted(deps.em, {
    operationId,
    requestTraceId: accepted.requestTraceId,
    firstPollAfterMs: deps.firstPollAfterMs,
  });
  return 'submitted';
}

/**
 * The request frozen when the operation started (every attempt sends the same body), with the
 * card's PAN read and decrypted now; only the kit is read, and only if the request sends a card.
 * An operation without a frozen request (none could be built when it started) is built from the
 * records now, which fails it with the reason.
 */
async function requestOf(em: EntityManager, operation: CtpOperation, decryptPan: (kit: Kit) => string) {
  const frozen = operation.requestBody;
  if (frozen != null) {
    const kitNo = operation.kitNumber;
    const kit =
      frozenRequestSendsCard(frozen) && kitNo != null
        ? await em.findOne(Kit, { tenant: operation.tenant, kitNo })
        : null;
    return thawSaasRequest(frozen, kit, decryptPan);
  }
  const records = await loadCtpRecords(em, operation.tenant, operation.entityId, { lock: false });
  if (records === null) throw new UnbuildableRequest('the entity no longer exists');
  return buildSaasRequest(operation, records, decryptPan);
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Logger } from 'pino';
import type { CtpOperation, FrozenSaasRequest } from '../entities/ctp-operation.ts';
import type { SaasClient } from '../saas/client.ts';
import { SaasError } from '../saas/errors.ts';
import { loadCtpRecords } from './ctp-records.ts';
import { failQueuedOperation } from './fail-operation.ts';
import { recordAccepted } from './record-accepted.ts';
import { buildSaasRequest, type EncryptedPan, thawSaasRequest, UnbuildableRequest } from './saas-request.ts';
import { sharedStatement } from './shared-transaction.ts';
import { defineStatement } from './sql-session.ts';

export interface SubmitDependencies {
  readonly em: EntityManager;
  readonly logger?: Logger;
  readonly saas: SaasClient;
  /** Decrypts a kit's PAN; called only for events that send a card. */
  readonly decryptPan: (kit: EncryptedPan) => string;
  readonly firstPollAfterMs: number;
}

/**
 * `accepted-after-end`: the SaaS accepted the request, but the operation had ended (or carried
 * another trace) before the `202` could be recorded; see `recordAccepted`.
 */
export type SubmitResult = 'submitted' | 'not-queued' | 'failed' | 'accepted-after-end';

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
export async function submitOperation(
  deps: SubmitDependencies,
  operationId: string,
  /**
   * What must pass before anything is sent (the worker's take of the tenant's SaaS rate). The
   * operation is read while it is pending: a submit job holds one of the worker's slots from its
   * start to its recorded `202`, and under load the rate take and the read cost some 6 and 8 ms
   * of that time one after the other. A rejection stops the submission, whether or not the read
   * is done (a take that put the job back as delayed wasted one read by primary key); it wins
   * over a failed read, so a delayed job is never reported failed too.
   */
  gate: Promise<void> = Promise.resolve(),
): Promise<SubmitResult> {
  const em = deps.em.fork();
  const [read, passed] = await Promise.allSettled([readForSubmit(em, operationId), gate]);
  if (passed.status === 'rejected') throw passed.reason;
  if (read.status === 'rejected') throw read.reason;
  const found = read.value;
  if (found === null || found.operation.status !== 'QUEUED') return 'not-queued';
  const { operation } = found;
  let accepted: Awaited<ReturnType<SaasClient['submitRequest']>>;
  try {
    const request = await requestOf(em, found, deps.decryptPan);
    accepted = await deps.saas.submitRequest(operation.tenant, request, { idempotencyKey: operation.id });
  } catch (error) {
    // `failQueuedOperation` is false when the operation is no longer `QUEUED` (another step
    // ended or recorded it first): then this submission failed nothing.
    if (error instanceof UnbuildableRequest) {
      const failed = await failQueuedOperation(deps.em, operationId, {
        code: 'UNBUILDABLE_REQUEST',
        message: 'Request Not Sent',
        details: error.message,
      });
      return failed ? 'failed' : 'not-queued';
    }
    if (error instanceof SaasError && error.code === 'IDEMPOTENCY_KEY_REUSED') {
      // The SaaS holds other work under this operation's key. No retry can change that answer,
      // so the worker fails the operation once (`permanentFailureOf` in its processor) instead of
      // calling the SaaS again and again; the failure's details say that what the network did
      // under the key is unknown and must be checked before the operation is retried.
      throw new IdempotencyConflict(operationId, error.message);
    }
    if (error instanceof SaasError && !error.retryable) {
      const failed = await failQueuedOperation(deps.em, operationId, {
        code: error.code,
        message: error.code === 'CONFLICT' ? 'Request Conflicts With Network State' : 'Request Refused',
        details: error.details === undefined ? error.message : JSON.stringify(error.details),
      });
      return failed ? 'failed' : 'not-queued';
    }
    throw error;
  }
  const recorded = await recordAccepted(deps.em, {
    operationId,
    requestTraceId: accepted.requestTraceId,
    firstPollAfterMs: deps.firstPollAfterMs,
  });
  if (recorded !== 'not-queued') return 'submitted';
  // The network does work our records have stopped waiting for. Retrying cannot help (the SaaS
  // answers the same key with the same trace), and recording the trace would resolve an ended
  // operation; so the job ends, and the mismatch is logged for an operator to re-sync the entity.
  deps.logger?.error(
    { operationId, tenant: operation.tenant, requestTraceId: accepted.requestTraceId },
    'the SaaS accepted an operation that had already ended; the network may now differ from our records',
  );
  return 'accepted-after-end';
}

interface OperationToSubmit {
  readonly operation: Pick<CtpOperation, 'id' | 'tenant' | 'event' | 'entityId' | 'kitNumber' | 'reason'> & {
    readonly status: CtpOperation['status'];
    readonly requestBody: FrozenSaasRequest | null;
  };
  /** The card a frozen request sends, read with the operation (its PAN still encrypted). */
  readonly kit: EncryptedPan | null;
}

const readForSubmitStatement = defineStatement<
  { operation_id: string },
  {
    id: string;
    tenant: string;
    event: CtpOperation['event'];
    entity_id: string;
    kit_number: string | null;
    reason: string | null;
    status: CtpOperation['status'];
    request_body: FrozenSaasRequest | null;
    kit_no: string | null;
    pan_ciphertext: string | null;
    pan_key_id: string | null;
  }
>(
  'ctp_read_for_submit',
  `select o.id, o.tenant, o.event, o.entity_id, o.kit_number, o.reason, o.status, o.request_body,
          k.kit_no, k.pan_ciphertext, k.pan_key_id
     from ctp_operation o
     left join kit k on k.tenant = o.tenant and k.kit_no = o.kit_number
                    and o.request_body -> 'body' -> 'paymentInstrument' is not null
    where o.id = $operation_id::uuid`,
);

/** The operation and, if its frozen request sends a card, the card: one statement. */
async function readForSubmit(em: EntityManager, operationId: string): Promise<OperationToSubmit | null> {
  const [row] = await sharedStatement(em, readForSubmitStatement({ operation_id: operationId }));
  if (row === undefined) return null;
  return {
    operation: {
      id: row.id,
      tenant: row.tenant,
      event: row.event,
      entityId: row.entity_id,
      kitNumber: row.kit_number,
      reason: row.reason,
      status: row.status,
      requestBody: row.request_body,
    },
    kit:
      row.kit_no === null || row.pan_ciphertext === null || row.pan_key_id === null
        ? null
        : {
            tenant: row.tenant,
            kitNo: row.kit_no,
            panCiphertext: row.pan_ciphertext,
            panKeyId: row.pan_key_id,
          },
  };
}

/**
 * The request frozen when the operation started (every attempt sends the same body), with the
 * card's PAN decrypted now. An operation without a frozen request (none could be built when it
 * started) is built from the records now, which fails it with the reason.
 */
async function requestOf(
  em: EntityManager,
  { operation, kit }: OperationToSubmit,
  decryptPan: (kit: EncryptedPan) => string,
) {
  const frozen = operation.requestBody;
  if (frozen != null) return thawSaasRequest(frozen, kit, decryptPan);
  const records = await loadCtpRecords(em, operation.tenant, operation.entityId);
  if (records === null) throw new UnbuildableRequest('the entity no longer exists');
  return buildSaasRequest(operation, records, decryptPan);
}

import { createHash, randomUUID } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { DomainError, notFound } from '../errors/domain-error.ts';
import {
  IDEMPOTENCY_KEY_CONSTRAINT,
  IN_FLIGHT_CONSTRAINT,
  uniqueViolationError,
  violatedUniqueConstraint,
} from '../errors/unique-violation.ts';
import { type CtpEvent, eventNamesKit } from '../lifecycle/events.ts';
import { planRequest, type RequestPlan } from '../lifecycle/transitions.ts';
import { assertEnrolmentEnabled, enrolmentSettingRead } from '../settings/enforce.ts';
import { snapshotOf } from './ctp-records.ts';
import { refuseEnrolment } from './enrolment-check.ts';
import {
  type AcceptedOperation,
  type Aggregate,
  findOperationByIdempotencyKey,
  lockEntity,
  readForRequest,
  requestReadFrom,
  StepWrites,
} from './lifecycle-store.ts';
import { outboxJobRow } from './outbox.ts';
import { freezeSaasRequest } from './saas-request.ts';
import { sharedTransaction } from './shared-transaction.ts';
import type { Statement, StepSession } from './sql-session.ts';

export interface OperationRequest {
  readonly tenant: string;
  readonly event: CtpEvent;
  readonly entityId: string;
  readonly kitNo?: string;
  readonly reason?: string;
  /** The client's `Idempotency-Key`, if it sent one. */
  readonly idempotencyKey?: string;
  /** The W3C `traceparent` of the span that asks (the api's request): stored, the operation's trace. */
  readonly traceparent?: string | undefined;
  /**
   * A batch's item: submitted with other items of the tenant's batches, a few a job
   * (`submit-items`), rather than by a job of its own.
   */
  readonly batchItem?: boolean;
}

export interface RequestedOperation {
  readonly operation: AcceptedOperation;
  /** True when this is the first answer again, for a repeated `Idempotency-Key`. */
  readonly replayed: boolean;
}

/** What makes two requests "the same request" for the `Idempotency-Key` rule. */
export function requestFingerprint(request: OperationRequest): string {
  const { tenant, event, entityId, kitNo, reason } = request;
  return createHash('sha256')
    .update(JSON.stringify([tenant, event, entityId, kitNo ?? null, reason ?? null]))
    .digest('hex');
}

/**
 * Accepts a CTP operation durably, in one transaction: lifecycle check, statuses to
 * `*_IN_PROGRESS`, the operation row, the outbox row of its submit job (and the
 * `Idempotency-Key` claim, a unique index on the operation row). Once this returns, the
 * operation runs even if every process dies the next moment.
 */
export async function requestOperation(
  em: EntityManager,
  request: OperationRequest,
  /** Statements that commit only with a new operation (an operator's audit row), in its transaction. */
  commitWithStarted?: (operation: AcceptedOperation) => readonly Statement[],
): Promise<RequestedOperation> {
  const fingerprint = requestFingerprint(request);
  try {
    return await sharedTransaction(
      em,
      (session) => acceptInTransaction(session, request, fingerprint, commitWithStarted),
      JSON.stringify([request.tenant, request.entityId]),
    );
  } catch (error) {
    // Two requests raced past the entity lock (the same key on two entities, a writer without the
    // lock): the unique index decided, and its name says what the answer is. Any other unique
    // violation goes to the caller as it is (the api answers 409 CONFLICT and logs it).
    const constraint = violatedUniqueConstraint(error);
    if (constraint === IDEMPOTENCY_KEY_CONSTRAINT) {
      const replay = await findReplay(em.fork(), request, fingerprint);
      if (replay !== null) return replay;
      // The claiming row is gone again (it cannot be deleted today): a conflict, not a replay.
      throw uniqueViolationError(constraint);
    }
    if (constraint === IN_FLIGHT_CONSTRAINT) throw uniqueViolationError(constraint);
    throw error;
  }
}

async function findReplay(
  em: EntityManager,
  request: OperationRequest,
  fingerprint: string,
): Promise<RequestedOperation | null> {
  if (request.idempotencyKey === undefined) return null;
  return replayOf(
    await findOperationByIdempotencyKey(em, request.tenant, request.idempotencyKey),
    fingerprint,
  );
}

function replayOf(existing: AcceptedOperation | null, fingerprint: string): RequestedOperation | null {
  if (existing === null) return null;
  if (existing.requestHash !== fingerprint) {
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another request');
  }
  return { operation: existing, replayed: true };
}

async function acceptInTransaction(
  session: StepSession,
  request: OperationRequest,
  fingerprint: string,
  commitWithStarted?: (operation: AcceptedOperation) => readonly Statement[],
): Promise<RequestedOperation> {
  const { tenant, event, entityId } = request;
  // The entity lock comes first: it serialises every lifecycle step of this entity, so the
  // checks below cannot be overtaken by a concurrent request. Lock and reads (the aggregate, and
  // for an enrolment the tenant's CTP settings): one round trip.
  const settingRead = enrolmentSettingRead(request);
  const [, read, setting] = await session.run([
    lockEntity(tenant, entityId),
    readForRequest(tenant, entityId, request.idempotencyKey),
    ...(settingRead === null ? [] : [settingRead]),
  ]);
  const { records, replay } = requestReadFrom(read);
  const replayed = replayOf(replay, fingerprint);
  if (replayed !== null) return replayed;
  if (records === null) throw notFound('entity');
  refuseEnrolment(event, snapshotOf(records));

  const kitNo = eventNamesKit(event) ? request.kitNo : undefined;
  if (eventNamesKit(event) && (kitNo === undefined || !records.kits.has(kitNo))) throw notFound('kit');
  refuseEnrolment(event, snapshotOf(records), kitNo);
  assertEnrolmentEnabled(request, setting);
  if (records.operationInFlight)
    throw new DomainError('OPERATION_IN_PROGRESS', 'another operation on this entity is not finished yet');

  const snapshot = snapshotOf(records);
  const plan = planRequest(event, snapshot, kitNo);
  if (!plan.ok) {
    const error = plan.error;
    throw new DomainError('INVALID_STATE', error.message, {
      event,
      ctpEntityStatus: snapshot.entity,
      ...(kitNo === undefined ? {} : { ctpKitStatus: snapshot.kits[kitNo] ?? 'UNREGISTERED' }),
    });
  }
  const writes = new StepWrites();
  const operation = startOperation(writes, records, { ...request, kitNo }, plan.value, fingerprint);
  await session.run([...writes.statements(), ...(commitWithStarted?.(operation) ?? [])], { commit: true });
  return { operation, replayed: false };
}

/**
 * The writes that start an operation once the lifecycle allowed it: the touched records to
 * their pending statuses, the operation row (with the plan a failure restores and the SaaS
 * request frozen now), and the outbox row of its submit job. In the caller's transaction, under
 * the entity lock.
 */
export function startOperation(
  writes: StepWrites,
  records: Aggregate,
  request: Omit<OperationRequest, 'kitNo'> & { readonly kitNo?: string | undefined },
  plan: RequestPlan,
  fingerprint: string,
): AcceptedOperation {
  const id = randomUUID();
  const kitNumber = request.kitNo ?? null;
  const reason = request.reason ?? null;
  writes.applySnapshot(records, plan.pending, { cause: `${request.event} requested`, operationId: id });
  const frozen = freezeSaasRequest({ event: request.event, kitNumber, reason }, records);
  writes.insertOperation({
    id,
    tenant: request.tenant,
    event: request.event,
    entityId: request.entityId,
    kitNumber,
    idempotencyKey: request.idempotencyKey ?? null,
    requestHash: fingerprint,
    statusBefore: plan,
    requestBody: frozen.request,
    dataAdjustments: frozen.adjustments,
    reason,
    traceparent: request.traceparent ?? null,
  });
  writes.outbox(
    outboxJobRow(request.batchItem === true ? 'submitItems' : 'submit', {
      tenant: request.tenant,
      key: id,
      operationId: id,
      data: { operationId: id, tenant: request.tenant },
    }),
  );
  return {
    id,
    tenant: request.tenant,
    event: request.event,
    entityId: request.entityId,
    kitNumber,
    status: 'QUEUED',
    requestHash: fingerprint,
  };
}

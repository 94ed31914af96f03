import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { DomainError } from './domain-error.ts';

/** The partial unique index that makes "one operation in flight per entity" a database fact. */
export const IN_FLIGHT_CONSTRAINT = 'uq_ctp_operation_in_flight';
/** The unique index that claims a tenant's `Idempotency-Key` on its operation. */
export const IDEMPOTENCY_KEY_CONSTRAINT = 'uq_ctp_operation_tenant_idempotency_key';

/**
 * The constraint a unique violation names (PostgreSQL's `constraint` field, which the ORM's
 * exception copies from the driver's error), `null` when `error` is no unique violation, and
 * `undefined` for a unique violation without a name.
 */
export function violatedUniqueConstraint(error: unknown): string | undefined | null {
  if (!(error instanceof UniqueConstraintViolationException)) return null;
  const constraint = (error as { constraint?: unknown }).constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}

/**
 * What a unique violation means to a client, by the constraint it names. Only the constraints a
 * use case knows answer specifically (`requestOperation` turns the `Idempotency-Key` one into a
 * replay or `IDEMPOTENCY_KEY_REUSED`); any other one is a write that collided with data written
 * at the same time: `409 CONFLICT`, true whatever the constraint, and nothing was written (the
 * transaction failed). Never `OPERATION_IN_PROGRESS` unless the in-flight index said so.
 */
export function uniqueViolationError(constraint: string | undefined): DomainError {
  if (constraint === IN_FLIGHT_CONSTRAINT)
    return new DomainError('OPERATION_IN_PROGRESS', 'another operation on this entity is not finished yet');
  return new DomainError(
    'CONFLICT',
    'the request collided with a change made at the same time; nothing was written, and it may be sent again',
  );
}

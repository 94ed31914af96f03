/**
 * The hot lifecycle steps (accepting an operation, resolving its trace, failing it) in as few
 * round trips as PostgreSQL allows: the entity lock, one read of the whole aggregate, and one
 * statement (data-modifying CTEs) for every write of the step. The decisions stay with the
 * lifecycle functions (`planRequest`, `planOutcome`, `resolveTrace`, `canMoveOperation`); these
 * modules only read what they need and write what they decided:
 *
 * - `aggregate-reads.ts`: the entity lock and the reads of the aggregate (and of a request's
 *   `Idempotency-Key` replay);
 * - `step-reads.ts`: the lock and read of the steps that end an operation, found by its trace or
 *   its id;
 * - `step-writes.ts`: `StepWrites`, every write of a step as one guarded statement.
 */
export * from './aggregate-reads.ts';
export * from './step-reads.ts';
export * from './step-writes.ts';

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
 * - `step-writes.ts`: `StepWrites`, every write of a step as one fixed, guarded statement,
 *   composed from the CTEs of the tables' own modules: each table is written from one module
 *   (`operation-writes.ts`, `trace-writes.ts`, `enrolment-writes.ts`, `history-writes.ts`,
 *   `inbox-writes.ts`, `outbox.ts`, `automatic-sync.ts` for `ctp_pending_sync`,
 *   `admin-actions.ts` for `ctp_audit_log`; `packages/core/test/sql-safety.test.ts` holds the map).
 */
export * from './aggregate-reads.ts';
export * from './step-reads.ts';
export * from './step-writes.ts';

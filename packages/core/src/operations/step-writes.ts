import type { DataAdjustment } from '../contracts/network-rules.ts';
import type { FrozenSaasRequest } from '../entities/ctp-operation.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { TerminalTraceStatus } from '../lifecycle/statuses.ts';
import { type CtpSnapshot, canMoveOperation, type RequestPlan } from '../lifecycle/transitions.ts';
import type { Aggregate } from './aggregate-reads.ts';
import { historyRow, type StatusCause, snapshotOf } from './ctp-records.ts';
import {
  INSERT_CUSTOMERS_CTE,
  INSERT_PAYMENTS_CTE,
  UPDATE_CUSTOMERS_CTE,
  UPDATE_PAYMENTS_CTE,
} from './enrolment-writes.ts';
import { INSERT_HISTORY_CTE } from './history-writes.ts';
import { MARK_WEBHOOKS_PROCESSED_CTE } from './inbox-writes.ts';
import { FINISH_OPERATIONS_CTE, GUARD_OPERATIONS_CTE, INSERT_OPERATIONS_CTE } from './operation-writes.ts';
import { INSERT_OUTBOX_CTE, type OutboxRow, outboxJson } from './outbox.ts';
import { defineStatement, type Statement } from './sql-session.ts';
import type { OperationRow } from './step-reads.ts';
import { GUARD_TRACES_CTE, RESOLVE_TRACES_CTE } from './trace-writes.ts';

/** The network's ids a successful outcome stores with the statuses. */
export interface NetworkIds {
  readonly clickToPayCustomerId?: string | undefined;
  /** For the operation's kit. */
  readonly kitNo?: string | undefined;
  readonly clickToPayPaymentInstrumentId?: string | undefined;
}

export interface NewOperation {
  readonly id: string;
  readonly tenant: string;
  readonly event: CtpEvent;
  readonly entityId: string;
  readonly kitNumber: string | null;
  readonly idempotencyKey: string | null;
  readonly requestHash: string;
  readonly statusBefore: RequestPlan;
  readonly requestBody: FrozenSaasRequest | null;
  readonly dataAdjustments: readonly DataAdjustment[];
  readonly reason: string | null;
  /** The W3C `traceparent` the operation's trace continues from (null: tracing off). */
  readonly traceparent: string | null;
}

/** The JSON of a set of rows, for a `jsonb_to_recordset` parameter. */
const json = (rows: readonly unknown[]): string => JSON.stringify(rows);

/** Every value a JSON array of rows, so that a group's steps send theirs as one (`mergeSets`). */
interface StepParams extends Record<string, unknown> {
  customers_new: string;
  customers_set: string;
  payments_new: string;
  payments_set: string;
  operations_new: string;
  operations_end: string;
  traces_end: string;
  webhooks_done: string;
  history: string;
  outbox: string;
}

/**
 * Every write a lifecycle step makes, as one statement of data-modifying CTEs composed from the
 * tables' own modules (each table is written from one module): the step's rows arrive as JSON
 * sets (`jsonb_to_recordset`), an empty set writes nothing, in the caller's transaction. Every
 * CTE depends on `ok`: the guards' locks (none unless the step ends an operation or a trace). A
 * statement with outbox rows wakes the relay after its commit (`wakesRelay`, `WAKE_RELAY` in
 * sql-session.ts), or, on a pool with an `OutboxPublisher`, leases them to the writer, which
 * publishes them itself (`publishable`).
 *
 * Two fixed texts: a step that ends nothing (a request starting an operation, the most common
 * step with the resolve) takes the one without the guards and the updates that end an operation,
 * a trace or an inbox row. PostgreSQL sets up every CTE of a statement, and locks and opens every
 * table and index it names, on each execution, whatever the sets hold: measured on one backend
 * (`bench/probe-step-writes.ts`: two statuses, a history row and an outbox row, with `begin` and
 * `rollback`), a median 355 µs of backend CPU with every part against 325 µs without the guarded
 * ones (quiet machine, 7 rounds of 2,000). A text per combination of parts would save more
 * (675 against 575 µs for that step, loaded machine), but it is composed at run time, and
 * `test/sql-safety.test.ts` admits only fixed texts with constant fragments.
 *
 * Both texts take every value as a set, so the steps of one round trip of a shared transaction
 * send theirs as one statement (`sets`, `mergeSets`). For the guarded one, that is the resolves
 * of a group of webhooks: each step's ending operation, trace and inbox row are a row of
 * `$operations_end`, `$traces_end` and `$webhooks_done`, and `ok` holds only if every guarded row
 * of the set is still as its step read it. One stale row fails the statement, the group is rolled
 * back and each step runs again alone (`shared-transaction.ts`), as after any failed statement.
 * Per step, the guarded statement alone cost 0.98 ms of PostgreSQL time per batch item, the
 * largest single statement (`pg_stat_statements`, 10,000-item bench batch, tenth session).
 */
export const stepWritesStatement = defineStatement<StepParams, { applied: true }>(
  'ctp_step_writes',
  `with ${GUARD_OPERATIONS_CTE},
  ${GUARD_TRACES_CTE},
  ok as (
    select (select count(*) from guard_operation) = jsonb_array_length($operations_end::jsonb)
       and (select count(*) from guard_trace) = jsonb_array_length($traces_end::jsonb) as applied),
  ${INSERT_CUSTOMERS_CTE},
  ${UPDATE_CUSTOMERS_CTE},
  ${INSERT_PAYMENTS_CTE},
  ${UPDATE_PAYMENTS_CTE},
  ${INSERT_OPERATIONS_CTE},
  ${FINISH_OPERATIONS_CTE},
  ${RESOLVE_TRACES_CTE},
  ${MARK_WEBHOOKS_PROCESSED_CTE},
  ${INSERT_HISTORY_CTE},
  ${INSERT_OUTBOX_CTE}
  select ctp_guard(applied) as applied from ok`,
  { sets: true },
);

/**
 * The same writes for a step that ends nothing: no guard, nothing ended (see above). Its values
 * are all sets, so the steps of one round trip of a shared transaction send theirs as one
 * statement (`sets`, `mergeSets`): the batch feeder's groups of up to 64 requests, the api's
 * concurrent requests.
 */
const unguardedStepWritesStatement = defineStatement<StepParams, { applied: true }>(
  'ctp_step_writes_unguarded',
  `with ok as (select true as applied),
  ${INSERT_CUSTOMERS_CTE},
  ${UPDATE_CUSTOMERS_CTE},
  ${INSERT_PAYMENTS_CTE},
  ${UPDATE_PAYMENTS_CTE},
  ${INSERT_OPERATIONS_CTE},
  ${INSERT_HISTORY_CTE},
  ${INSERT_OUTBOX_CTE}
  select ctp_guard(applied) as applied from ok`,
  { sets: true },
);

type Failure = { code: string; message: string; details: string } | null;

/**
 * The writes of one lifecycle step, gathered, then sent as the one statement above.
 *
 * A step that moves a row only from the status it read (`finishOperation`, `resolveTrace`)
 * guards on it: the guard locks that row if it still has that status (`FOR UPDATE` re-checks the
 * newest committed version), and every write of the step, the guarded update included, depends
 * on the guard's rows. A writer that moved the row first (the entity lock should make that
 * impossible; the guard makes it harmless) leaves the step's statement without any effect: no
 * status revert, no history, no notification. The statement then fails (`ctp_guard`, SQLSTATE
 * `CTPLR`), which aborts the transaction with everything else it would have committed;
 * `SqlSession` throws `LostRace` and runs the step again from a fresh read.
 */
export class StepWrites {
  readonly #customersNew: unknown[] = [];
  readonly #customersSet: unknown[] = [];
  readonly #paymentsNew: unknown[] = [];
  readonly #paymentsSet: unknown[] = [];
  readonly #operationsNew: unknown[] = [];
  readonly #history: unknown[] = [];
  readonly #outbox: OutboxRow[] = [];
  #finish: { id: string; status: string; to: string; error: Failure } | null = null;
  #trace: { pkey: string; to: string; error: Failure } | null = null;
  #webhookId: string | null = null;

  /**
   * The statuses the lifecycle computed for the aggregate (`planRequest`, `planOutcome`), with
   * the network's ids of a success: the `ctp_customer` / `ctp_payment` rows are created the first
   * time a record enters CTP, each change goes to the status history. This is the only code that
   * writes a status column of an entity or kit.
   */
  applySnapshot(records: Aggregate, next: CtpSnapshot, why: StatusCause, ids: NetworkIds = {}): void {
    const before = snapshotOf(records);
    const entity = records.entity;
    if (records.customer === null) {
      this.#customersNew.push({
        tenant: entity.tenant,
        entityId: entity.entityId,
        customerId: ids.clickToPayCustomerId ?? null,
        status: next.entity,
        entityPkey: entity.pkey,
      });
    } else {
      const customerId = ids.clickToPayCustomerId ?? records.customer.clickToPayCustomerId;
      if (next.entity !== before.entity || customerId !== records.customer.clickToPayCustomerId) {
        this.#customersSet.push({ pkey: records.customer.pkey, status: next.entity, customerId });
      }
    }
    if (before.entity !== next.entity)
      this.history(entity, { record: 'entity', from: before.entity, to: next.entity }, why);

    for (const [kitNo, status] of Object.entries(next.kits)) {
      const entry = records.kits.get(kitNo);
      if (entry === undefined) continue;
      const instrumentId = kitNo === ids.kitNo ? ids.clickToPayPaymentInstrumentId : undefined;
      const payment = entry.payment;
      if (payment === null) {
        if (status === 'UNREGISTERED') continue;
        this.#paymentsNew.push({
          tenant: entity.tenant,
          instrumentId: instrumentId ?? null,
          status,
          // null: the customer this step inserts for the entity.
          customerPkey: records.customer?.pkey ?? null,
          entityPkey: entity.pkey,
          kitPkey: entry.kit.pkey,
        });
      } else {
        const nextId = instrumentId ?? payment.clickToPayPaymentInstumentId;
        if (status !== payment.ctpKitStatus || nextId !== payment.clickToPayPaymentInstumentId) {
          this.#paymentsSet.push({ pkey: payment.pkey, status, instrumentId: nextId });
        }
      }
      const from = before.kits[kitNo] ?? 'UNREGISTERED';
      if (from !== status) this.history(entity, { record: 'kit', kitNo, from, to: status }, why);
    }
  }

  /** A new `QUEUED` operation. */
  insertOperation(operation: NewOperation): void {
    this.#operationsNew.push({
      ...operation,
      dataAdjustments: operation.dataAdjustments.length === 0 ? null : operation.dataAdjustments,
    });
  }

  /**
   * Ends an operation (`canMoveOperation` decides), guarded by the status it was read with: if a
   * concurrent writer moved it first, no write of this step happens.
   */
  finishOperation(
    operation: Pick<OperationRow, 'id' | 'status'>,
    to: 'SUCCESS' | 'FAILED',
    error: Failure,
  ): void {
    if (!canMoveOperation(operation.status, to)) {
      throw new Error(`operation ${operation.id} cannot move from ${operation.status} to ${to}`);
    }
    if (this.#finish !== null) throw new Error('a step ends one operation');
    this.#finish = { id: operation.id, status: operation.status, to, error };
  }

  /**
   * A trace turns terminal (`resolveTrace` decided), guarded by its being `IN_PROGRESS`: if a
   * concurrent writer resolved it first, no write of this step happens.
   */
  resolveTrace(tracePkey: string, to: TerminalTraceStatus, error: Failure): void {
    if (this.#trace !== null) throw new Error('a step resolves one trace');
    this.#trace = { pkey: tracePkey, to, error };
  }

  markWebhookProcessed(webhookId: string): void {
    this.#webhookId = webhookId;
  }

  /**
   * A job or notification to publish once committed: by the writer's own process when it has an
   * `OutboxPublisher`, else by the relay (woken after the commit).
   */
  outbox(row: OutboxRow): void {
    this.#outbox.push(row);
  }

  history(
    owner: { readonly tenant: string; readonly entityId: string },
    change: Parameters<typeof historyRow>[1],
    why: StatusCause,
  ): void {
    this.#history.push(historyRow(owner, change, why));
  }

  /** Every write as one statement (null: nothing to write); its one row says whether it `applied`. */
  statement(): Statement | null {
    const finish = this.#finish;
    const trace = this.#trace;
    const sets = [
      this.#customersNew,
      this.#customersSet,
      this.#paymentsNew,
      this.#paymentsSet,
      this.#operationsNew,
      this.#history,
      this.#outbox,
    ];
    const endsSomething = finish !== null || trace !== null || this.#webhookId !== null;
    if (!endsSomething && sets.every((set) => set.length === 0)) return null;
    const define = endsSomething ? stepWritesStatement : unguardedStepWritesStatement;
    const errorOf = (error: Failure) => ({
      errorCode: error?.code ?? null,
      errorMessage: error?.message ?? null,
      errorDetails: error?.details ?? null,
    });
    const base = {
      customers_new: json(this.#customersNew),
      customers_set: json(this.#customersSet),
      payments_new: json(this.#paymentsNew),
      payments_set: json(this.#paymentsSet),
      operations_new: json(this.#operationsNew),
      operations_end: json(
        finish === null
          ? []
          : [{ id: finish.id, status: finish.status, to: finish.to, ...errorOf(finish.error) }],
      ),
      traces_end: json(trace === null ? [] : [{ pkey: trace.pkey, to: trace.to, ...errorOf(trace.error) }]),
      webhooks_done: json(this.#webhookId === null ? [] : [this.#webhookId]),
      history: json(this.#history),
    };
    const outbox = [...this.#outbox];
    const params = (leaseMs: number | null): StepParams => ({ ...base, outbox: outboxJson(outbox, leaseMs) });
    if (outbox.length === 0) return define(params(null));
    // Sent as is, the relay publishes the rows (woken after the commit); on a pool with an
    // `OutboxPublisher`, the session sends them leased to the writer, which publishes them.
    return define(params(null), {
      wakesRelay: true,
      publishable: { rows: outbox, leased: (leaseMs) => define(params(leaseMs)) },
    });
  }

  /** The statements to send with the commit. */
  statements(): Statement[] {
    const statement = this.statement();
    return statement === null ? [] : [statement];
  }
}

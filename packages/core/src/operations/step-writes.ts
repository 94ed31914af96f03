import type { DataAdjustment } from '../contracts/network-rules.ts';
import type { FrozenSaasRequest } from '../entities/ctp-operation.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { TerminalTraceStatus } from '../lifecycle/statuses.ts';
import { type CtpSnapshot, canMoveOperation, type RequestPlan } from '../lifecycle/transitions.ts';
import type { Aggregate } from './aggregate-reads.ts';
import { historyRow, type StatusCause, snapshotOf } from './ctp-records.ts';
import { OUTBOX_CHANNEL, type OutboxRow } from './outbox.ts';
import { type Statement, sql } from './sql-session.ts';
import type { OperationRow } from './step-reads.ts';

/** The inbox row of a webhook delivery is done (once: a processed row is left as it is). */
export function markWebhookProcessed(webhookId: string): Statement {
  return sql(
    'update ctp_webhook_inbox set processed_at = now() where webhook_id = ? and processed_at is null',
    [webhookId],
  );
}

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
}

const json = (value: unknown) => JSON.stringify(value);

/** One write of a step: its statement, given the guard condition its rows depend on (if any). */
interface Write {
  readonly text: (guard: string | null) => string;
  readonly params: readonly unknown[];
}

/**
 * The writes of one lifecycle step, sent as one statement of data-modifying CTEs (every CTE
 * runs, in the caller's transaction; each row is written at most once per statement). The
 * relay is woken in the same statement, so at commit.
 *
 * A step that moves a row only from the status it read (`finishOperation`, `resolveTrace`)
 * guards on it: the guard locks that row if it still has that status (`FOR UPDATE` re-checks the
 * newest committed version), and every write of the step, the guarded update included, depends
 * on the guard's rows. A writer that moved the row first (the entity lock should make that
 * impossible; the guard makes it harmless) leaves the step's statement without any effect: no
 * status revert, no history, no notification. The statement then reports `applied = false`,
 * `SqlSession` throws `LostRace` and runs the step again from a fresh read.
 */
export class StepWrites {
  readonly #writes: Write[] = [];
  readonly #guards: { readonly sql: string; readonly params: readonly unknown[] }[] = [];
  readonly #history: unknown[][] = [];
  readonly #outbox: OutboxRow[] = [];
  #wake = false;

  /** An `update ... where ...` (ending with its condition, so the guard can be added). */
  #update(sql: string, params: readonly unknown[]): string {
    return this.#push({ text: (guard) => (guard === null ? sql : `${sql} and ${guard}`), params });
  }

  /** An insert of the rows `values` (each `(?, ...)`) into `target` (`table (columns)`). */
  #insert(target: string, values: readonly string[], params: readonly unknown[], returning = ''): string {
    const rows = values.join(', ');
    return this.#push({
      text: (guard) =>
        guard === null
          ? `insert into ${target} values ${rows} ${returning}`
          : `insert into ${target} select * from (values ${rows}) v where ${guard} ${returning}`,
      params,
    });
  }

  #push(write: Write): string {
    this.#writes.push(write);
    return `w${this.#writes.length - 1}`;
  }

  /** Every write of the step happens only if `sql` (a locking select) finds its row. */
  #guard(sql: string, params: readonly unknown[]): void {
    this.#guards.push({ sql, params });
  }

  /**
   * The statuses the lifecycle computed for the aggregate (`planRequest`, `planOutcome`), with
   * the network's ids of a success: the `ctp_customer` / `ctp_payment` rows are created the first
   * time a record enters CTP, each change goes to the status history. This is the only code that
   * writes a status column of an entity or kit.
   */
  applySnapshot(records: Aggregate, next: CtpSnapshot, why: StatusCause, ids: NetworkIds = {}): void {
    const before = snapshotOf(records);
    const entity = records.entity;
    let customerRef: string;
    if (records.customer === null) {
      const name = this.#insert(
        `ctp_customer (tenant, entity_id, "clickToPayCustomerId", ctp_entity_status, business_entity_fkey,
           version, created_at, updated_at)`,
        ['(?, ?, ?, ?, ?::bigint, 1, now(), now())'],
        [entity.tenant, entity.entityId, ids.clickToPayCustomerId ?? null, next.entity, entity.pkey],
        'returning pkey',
      );
      customerRef = `(select pkey from ${name})`;
    } else {
      const customerId = ids.clickToPayCustomerId ?? records.customer.clickToPayCustomerId;
      if (next.entity !== before.entity || customerId !== records.customer.clickToPayCustomerId) {
        this.#update(
          `update ctp_customer set ctp_entity_status = ?, "clickToPayCustomerId" = ?, updated_at = now(),
             version = version + 1 where pkey = ?::bigint`,
          [next.entity, customerId, records.customer.pkey],
        );
      }
      customerRef = '?::bigint';
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
        this.#insert(
          `ctp_payment (tenant, "clickToPayPaymentInstumentId", ctp_kit_status, ctcustomer_pkey, kit_pkey,
             version, created_at, updated_at)`,
          [`(?, ?, ?, ${customerRef}, ?::bigint, 1, now(), now())`],
          [
            entity.tenant,
            instrumentId ?? null,
            status,
            ...(records.customer === null ? [] : [records.customer.pkey]),
            entry.kit.pkey,
          ],
        );
      } else {
        const nextId = instrumentId ?? payment.clickToPayPaymentInstumentId;
        if (status !== payment.ctpKitStatus || nextId !== payment.clickToPayPaymentInstumentId) {
          this.#update(
            `update ctp_payment set ctp_kit_status = ?, "clickToPayPaymentInstumentId" = ?, updated_at = now(),
               version = version + 1 where pkey = ?::bigint`,
            [status, nextId, payment.pkey],
          );
        }
      }
      const from = before.kits[kitNo] ?? 'UNREGISTERED';
      if (from !== status) this.history(entity, { record: 'kit', kitNo, from, to: status }, why);
    }
  }

  /** A new `QUEUED` operation. */
  insertOperation(operation: NewOperation): void {
    this.#insert(
      `ctp_operation (id, tenant, event, entity_id, kit_number, status, attempts, idempotency_key,
         request_hash, status_before, request_body, data_adjustments, reason, version, created_at, updated_at)`,
      [`(?::uuid, ?, ?, ?, ?, 'QUEUED', 0, ?, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?, 1, now(), now())`],
      [
        operation.id,
        operation.tenant,
        operation.event,
        operation.entityId,
        operation.kitNumber,
        operation.idempotencyKey,
        operation.requestHash,
        json(operation.statusBefore),
        operation.requestBody === null ? null : json(operation.requestBody),
        operation.dataAdjustments.length === 0 ? null : json(operation.dataAdjustments),
        operation.reason,
      ],
    );
  }

  /**
   * Ends an operation (`canMoveOperation` decides), guarded by the status it was read with: if a
   * concurrent writer moved it first, no write of this step happens.
   */
  finishOperation(
    operation: Pick<OperationRow, 'id' | 'status'>,
    to: 'SUCCESS' | 'FAILED',
    error: { code: string; message: string; details: string } | null,
  ): void {
    if (!canMoveOperation(operation.status, to)) {
      throw new Error(`operation ${operation.id} cannot move from ${operation.status} to ${to}`);
    }
    this.#guard('select 1 from ctp_operation where id = ?::uuid and status = ? for update', [
      operation.id,
      operation.status,
    ]);
    this.#update(
      `update ctp_operation set status = ?, completed_at = now(), updated_at = now(), version = version + 1,
         error_code = coalesce(?, error_code), error_message = coalesce(?, error_message),
         error_details = coalesce(?, error_details)
       where id = ?::uuid and status = ?`,
      [
        to,
        error?.code ?? null,
        error?.message ?? null,
        error?.details ?? null,
        operation.id,
        operation.status,
      ],
    );
  }

  /**
   * A trace turns terminal (`resolveTrace` decided), guarded by its being `IN_PROGRESS`: if a
   * concurrent writer resolved it first, no write of this step happens.
   */
  resolveTrace(
    tracePkey: string,
    to: TerminalTraceStatus,
    error: { code: string; message: string; details: string } | null,
  ): void {
    this.#guard(
      `select 1 from "ctp_requestIdTracking" where pkey = ?::bigint and status_ctp = 'IN_PROGRESS' for update`,
      [tracePkey],
    );
    this.#update(
      `update "ctp_requestIdTracking" set status_ctp = ?, resolved_at = now(), next_poll_at = null,
         error_code = ?, error_message = ?, error_details = ?, updated_at = now(), version = version + 1
       where pkey = ?::bigint and status_ctp = 'IN_PROGRESS'`,
      [to, error?.code ?? null, error?.message ?? null, error?.details ?? null, tracePkey],
    );
  }

  markWebhookProcessed(webhookId: string): void {
    const statement = markWebhookProcessed(webhookId);
    this.#update(statement.sql, statement.params);
  }

  /** A job or notification to publish once committed (the relay is woken at commit). */
  outbox(row: OutboxRow): void {
    this.#outbox.push(row);
  }

  history(
    owner: { readonly tenant: string; readonly entityId: string },
    change: Parameters<typeof historyRow>[1],
    why: StatusCause,
  ): void {
    const row = historyRow(owner, change, why);
    this.#history.push([
      row.tenant,
      row.entityId,
      row.kitNumber,
      row.record,
      row.fromStatus,
      row.toStatus,
      row.cause,
      row.operationId,
      row.requestTraceId,
    ]);
  }

  /**
   * Every write as one statement (null: nothing to write); wakes the relay at commit if it wrote
   * an outbox row. Its one row says whether it `applied` (always, unless a guard lost its row).
   */
  statement(): Statement | null {
    if (this.#history.length > 0) {
      this.#insert(
        `ctp_status_history (tenant, entity_id, kit_number, record, from_status, to_status, cause, operation_id,
           request_trace_id, created_at)`,
        this.#history.map(() => '(?, ?, ?, ?, ?, ?, ?, ?::uuid, ?, now())'),
        this.#history.flat(),
      );
      this.#history.length = 0;
    }
    if (this.#outbox.length > 0) {
      this.#insert(
        'ctp_outbox (tenant, kind, topic, operation_id, dedupe_key, payload, attempts, available_at, created_at)',
        this.#outbox.map(() => '(?, ?, ?, ?::uuid, ?, ?::jsonb, 0, now(), now())'),
        this.#outbox.flatMap((row) => [
          row.tenant,
          row.kind,
          row.topic,
          row.operationId,
          row.dedupeKey,
          json(row.payload),
        ]),
      );
      this.#wake = true;
      this.#outbox.length = 0;
    }
    if (this.#writes.length === 0) return null;
    const guarded = this.#guards.length > 0;
    const condition = guarded
      ? this.#guards.map((_, i) => `exists (select 1 from g${i})`).join(' and ')
      : null;
    const ctes = [
      ...this.#guards.map((guard, i) => `g${i} as (${guard.sql})`),
      ...this.#writes.map((write, i) => `w${i} as (${write.text(condition)})`),
    ];
    const params = [
      ...this.#guards.flatMap((guard) => guard.params),
      ...this.#writes.flatMap((w) => w.params),
    ];
    const notify = `pg_notify('${OUTBOX_CHANNEL}', '')`;
    const wake = !this.#wake
      ? '1'
      : condition === null
        ? notify
        : `case when ${condition} then ${notify} end`;
    return {
      sql: `with ${ctes.join(',\n')} select ${condition ?? 'true'} as applied, ${wake} as wake`,
      params,
      guarded,
    };
  }

  /** The statements to send with the commit. */
  statements(): Statement[] {
    const statement = this.statement();
    return statement === null ? [] : [statement];
  }
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Consent, PostalAddress } from '../entities/business-entity.ts';
import type { FrozenSaasRequest } from '../entities/ctp-operation.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { CtpStatus, OperationStatus, TerminalTraceStatus } from '../lifecycle/statuses.ts';
import { type CtpSnapshot, canMoveOperation, type RequestPlan } from '../lifecycle/transitions.ts';
import { historyRow, type RecordsView, type StatusCause, snapshotOf } from './ctp-records.ts';
import { OUTBOX_CHANNEL, type OutboxRow } from './outbox.ts';
import { type Statement, sql } from './sql-session.ts';

/**
 * The hot lifecycle steps (accepting an operation, resolving its trace, failing it) in as few
 * round trips as PostgreSQL allows: the entity lock, one read of the whole aggregate, and one
 * statement (data-modifying CTEs) for every write of the step. The decisions stay with the
 * lifecycle functions (`planRequest`, `planOutcome`, `resolveTrace`, `canMoveOperation`); this
 * module only reads what they need and writes what they decided.
 */

/** One kit of the aggregate with its CTP enrolment, as the hot paths read it. */
export interface AggregateKit {
  readonly kit: {
    readonly pkey: string;
    readonly kitNo: string;
    readonly expiryMonth: number;
    readonly expiryYear: number;
    readonly nameOnCard: string;
  };
  readonly payment: {
    readonly pkey: string;
    readonly ctpKitStatus: CtpStatus;
    readonly clickToPayPaymentInstumentId: string | null;
  } | null;
}

/** An entity, its CTP enrolment and its kits, read in one statement. */
export interface Aggregate extends RecordsView<AggregateKit['kit']> {
  readonly entity: {
    readonly pkey: string;
    readonly tenant: string;
    readonly entityId: string;
    readonly firstName: string;
    readonly lastName: string;
    readonly email: string;
    readonly phoneCountryCode: string;
    readonly phoneNumber: string;
    readonly address: PostalAddress;
    readonly locale: string;
    readonly countryCode: string;
    readonly consent: Consent | null;
  };
  readonly customer: {
    readonly pkey: string;
    readonly ctpEntityStatus: CtpStatus;
    readonly clickToPayCustomerId: string | null;
  } | null;
  readonly kits: ReadonlyMap<string, AggregateKit>;
  /** An operation of this entity is `QUEUED` or `IN_PROGRESS`. */
  readonly operationInFlight: boolean;
  /** Automatic updates wait for this entity (`ctp_pending_sync`). */
  readonly syncPending: boolean;
}

/**
 * The columns of the aggregate, for `from business_entity e left join ctp_customer c`. Prefixed
 * so a step's read can add its own columns.
 */
const AGGREGATE_COLUMNS = `
  e.pkey::text as a_pkey, e.tenant as a_tenant, e.entity_id as a_entity_id, e.first_name as a_first_name,
  e.last_name as a_last_name, e.email as a_email, e.phone_country_code as a_phone_country_code,
  e.phone_number as a_phone_number, e.address as a_address, e.locale as a_locale,
  e.country_code as a_country_code, e.consent as a_consent,
  c.pkey::text as a_customer_pkey, c.ctp_entity_status as a_entity_status,
  c."clickToPayCustomerId" as a_customer_id,
  coalesce((select json_agg(json_build_object(
      'pkey', k.pkey::text, 'kitNo', k.kit_no, 'expiryMonth', k.expiry_month,
      'expiryYear', k.expiry_year, 'nameOnCard', k.name_on_card, 'paymentPkey', p.pkey::text,
      'status', p.ctp_kit_status, 'instrumentId', p."clickToPayPaymentInstumentId") order by k.kit_no)
    from kit k left join ctp_payment p on p.kit_pkey = k.pkey
    where k.business_entity_fkey = e.pkey), '[]'::json) as a_kits,
  exists(select 1 from ctp_operation o where o.tenant = e.tenant and o.entity_id = e.entity_id
    and o.status in ('QUEUED', 'IN_PROGRESS')) as a_in_flight,
  exists(select 1 from ctp_pending_sync s where s.tenant = e.tenant and s.entity_id = e.entity_id)
    as a_sync_pending`;

const AGGREGATE_FROM = 'business_entity e left join ctp_customer c on c.business_entity_fkey = e.pkey';

interface AggregateRow {
  a_pkey: string | null;
  a_tenant: string;
  a_entity_id: string;
  a_first_name: string;
  a_last_name: string;
  a_email: string;
  a_phone_country_code: string;
  a_phone_number: string;
  a_address: PostalAddress;
  a_locale: string;
  a_country_code: string;
  a_consent: Consent | null;
  a_customer_pkey: string | null;
  a_entity_status: CtpStatus | null;
  a_customer_id: string | null;
  a_kits: {
    pkey: string;
    kitNo: string;
    expiryMonth: number;
    expiryYear: number;
    nameOnCard: string;
    paymentPkey: string | null;
    status: CtpStatus | null;
    instrumentId: string | null;
  }[];
  a_in_flight: boolean;
  a_sync_pending: boolean;
}

function aggregateOf(row: AggregateRow): Aggregate | null {
  if (row.a_pkey === null) return null;
  return {
    entity: {
      pkey: row.a_pkey,
      tenant: row.a_tenant,
      entityId: row.a_entity_id,
      firstName: row.a_first_name,
      lastName: row.a_last_name,
      email: row.a_email,
      phoneCountryCode: row.a_phone_country_code,
      phoneNumber: row.a_phone_number,
      address: row.a_address,
      locale: row.a_locale,
      countryCode: row.a_country_code,
      consent: row.a_consent,
    },
    customer:
      row.a_customer_pkey === null || row.a_entity_status === null
        ? null
        : {
            pkey: row.a_customer_pkey,
            ctpEntityStatus: row.a_entity_status,
            clickToPayCustomerId: row.a_customer_id,
          },
    kits: new Map(
      row.a_kits.map((k) => [
        k.kitNo,
        {
          kit: {
            pkey: k.pkey,
            kitNo: k.kitNo,
            expiryMonth: k.expiryMonth,
            expiryYear: k.expiryYear,
            nameOnCard: k.nameOnCard,
          },
          payment:
            k.paymentPkey === null || k.status === null
              ? null
              : { pkey: k.paymentPkey, ctpKitStatus: k.status, clickToPayPaymentInstumentId: k.instrumentId },
        },
      ]),
    ),
    operationInFlight: row.a_in_flight,
    syncPending: row.a_sync_pending,
  };
}

/**
 * Locks the entity (`FOR UPDATE`) for the rest of the transaction: every lifecycle step of one
 * entity takes this lock first, so two steps on it run one after the other. Read the aggregate
 * with a later statement (the same round trip is fine): under READ COMMITTED each statement sees
 * what was committed before it started, so a read in the locking statement itself could miss
 * what the previous holder of the lock wrote.
 */
export function lockEntity(tenant: string, entityId: string): Statement {
  return sql('select 1 as one from business_entity where tenant = ? and entity_id = ? for update', [
    tenant,
    entityId,
  ]);
}

/** The aggregate of an entity (after `lockEntity` when the step writes); see `aggregateFrom`. */
export function readAggregate(tenant: string, entityId: string): Statement {
  return sql(`select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM} where e.tenant = ? and e.entity_id = ?`, [
    tenant,
    entityId,
  ]);
}

/** The aggregate in the rows of `readAggregate` (null: the entity does not exist). */
export function aggregateFrom(rows: unknown[] | undefined): Aggregate | null {
  const row = rows?.[0] as AggregateRow | undefined;
  return row === undefined ? null : aggregateOf(row);
}

/** What names an operation and where it stands. */
export interface OperationHead {
  readonly id: string;
  readonly tenant: string;
  readonly event: CtpEvent;
  readonly entityId: string;
  readonly kitNumber: string | null;
  readonly status: OperationStatus;
}

/** An operation as the api answers it when it is accepted (or replayed). */
export interface AcceptedOperation extends OperationHead {
  /** Hash of the client request, to tell a replay from a reuse of its `Idempotency-Key`. */
  readonly requestHash: string | null;
}

const ACCEPTED_OPERATION_JSON = `json_build_object('id', o.id, 'tenant', o.tenant, 'event', o.event,
  'entityId', o.entity_id, 'kitNumber', o.kit_number, 'status', o.status, 'requestHash', o.request_hash)`;

/** The operation a tenant started with an `Idempotency-Key`, if any. */
export async function findOperationByIdempotencyKey(
  em: EntityManager,
  tenant: string,
  idempotencyKey: string,
): Promise<AcceptedOperation | null> {
  const [row] = await em.execute<{ operation: AcceptedOperation }[]>(
    `select ${ACCEPTED_OPERATION_JSON} as operation from ctp_operation o where o.tenant = ? and o.idempotency_key = ?`,
    [tenant, idempotencyKey],
  );
  return row?.operation ?? null;
}

/**
 * For a request: the aggregate (no row's columns when the entity does not exist) and, when the
 * client sent an `Idempotency-Key`, the operation it already started with it.
 */
export function readForRequest(
  tenant: string,
  entityId: string,
  idempotencyKey: string | undefined,
): Statement {
  return sql(
    `select ${AGGREGATE_COLUMNS}, r.replay
       from (select 1) one
       left join (${AGGREGATE_FROM}) on e.tenant = ? and e.entity_id = ?
       left join lateral (select ${ACCEPTED_OPERATION_JSON} as replay from ctp_operation o
                           where o.tenant = ? and o.idempotency_key = ?) r on true`,
    [tenant, entityId, tenant, idempotencyKey ?? null],
  );
}

export function requestReadFrom(rows: unknown[] | undefined): {
  records: Aggregate | null;
  replay: AcceptedOperation | null;
} {
  const row = rows?.[0] as (AggregateRow & { replay: AcceptedOperation | null }) | undefined;
  return { records: row === undefined ? null : aggregateOf(row), replay: row?.replay ?? null };
}

/** The operation row as the hot steps read it. */
export interface OperationRow extends OperationHead {
  readonly statusBefore: RequestPlan | null;
}

/** A trace with its operation and the aggregate of its entity, for the resolve step. */
export interface TraceForResolve {
  readonly trace: {
    readonly pkey: string;
    readonly requestTraceId: string;
    readonly statusCtp: 'IN_PROGRESS' | TerminalTraceStatus;
    readonly kitNumber: string | null;
    readonly tenant: string;
    readonly entityId: string;
  };
  readonly operation: OperationRow;
  readonly records: Aggregate | null;
}

/** The entity of a trace (see `lockEntity`); no row if the trace or its entity is unknown. */
export function lockEntityOfTrace(tenant: string, requestTraceId: string): Statement {
  return sql(
    `select 1 as one from "ctp_requestIdTracking" t
       join business_entity e on e.tenant = t.tenant and e.entity_id = t.entity_id
      where t.tenant = ? and t."request_trace_ID" = ? for update of e`,
    [tenant, requestTraceId],
  );
}

/** The operation's columns in a step's read (`from ctp_operation o`), and their row. */
const OPERATION_COLUMNS = `o.id as o_id, o.tenant as o_tenant, o.entity_id as o_entity_id, o.event as o_event,
  o.kit_number as o_kit_number, o.status as o_status, o.status_before as o_status_before`;

type OperationColumns = AggregateRow & {
  o_id: string;
  o_tenant: string;
  o_entity_id: string;
  o_event: CtpEvent;
  o_kit_number: string | null;
  o_status: OperationStatus;
  o_status_before: RequestPlan | null;
};

const operationOf = (row: OperationColumns): OperationRow => ({
  id: row.o_id,
  tenant: row.o_tenant,
  event: row.o_event,
  entityId: row.o_entity_id,
  kitNumber: row.o_kit_number,
  status: row.o_status,
  statusBefore: row.o_status_before,
});

type TraceRow = OperationColumns & {
  t_pkey: string;
  t_status: TraceForResolve['trace']['statusCtp'];
  t_kit_number: string | null;
  t_entity_id: string;
};

/**
 * The trace, its operation and the aggregate of its entity. The entity is found through a
 * scalar subquery rather than joined on the trace's columns, so the planner looks it up by its
 * unique index instead of walking every entity of the tenant.
 */
export function readTraceForResolve(tenant: string, requestTraceId: string): Statement {
  return sql(
    `select t.pkey::text as t_pkey, t.status_ctp as t_status, t.kit_number as t_kit_number,
            t.entity_id as t_entity_id, ${OPERATION_COLUMNS}, a.*
       from "ctp_requestIdTracking" t
       join ctp_operation o on o.id = t.operation_id
       left join (select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM}
                   where e.tenant = ? and e.entity_id = (select entity_id from "ctp_requestIdTracking"
                                                          where tenant = ? and "request_trace_ID" = ?)) a on true
      where t.tenant = ? and t."request_trace_ID" = ?`,
    [tenant, tenant, requestTraceId, tenant, requestTraceId],
  );
}

export function traceForResolveFrom(
  rows: unknown[] | undefined,
  tenant: string,
  requestTraceId: string,
): TraceForResolve | null {
  const row = rows?.[0] as TraceRow | undefined;
  if (row === undefined) return null;
  return {
    trace: {
      pkey: row.t_pkey,
      requestTraceId,
      statusCtp: row.t_status,
      kitNumber: row.t_kit_number,
      tenant,
      entityId: row.t_entity_id,
    },
    operation: operationOf(row),
    records: aggregateOf(row),
  };
}

/** An operation with the aggregate of its entity, for the steps that end it without a trace. */
export interface OperationForStep {
  readonly operation: OperationRow;
  readonly records: Aggregate | null;
}

/** The entity of an operation (see `lockEntity`); no row if the operation or its entity is unknown. */
export function lockEntityOfOperation(operationId: string): Statement {
  return sql(
    `select 1 as one from ctp_operation o
       join business_entity e on e.tenant = o.tenant and e.entity_id = o.entity_id
      where o.id = ?::uuid for update of e`,
    [operationId],
  );
}

/** The operation and its entity's aggregate (the entity found as in `readTraceForResolve`). */
export function readOperationForStep(operationId: string): Statement {
  return sql(
    `select ${OPERATION_COLUMNS}, a.*
       from ctp_operation o
       left join (select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM}
                   where (e.tenant, e.entity_id) = (select tenant, entity_id from ctp_operation where id = ?::uuid)) a
         on true
      where o.id = ?::uuid`,
    [operationId, operationId],
  );
}

export function operationForStepFrom(rows: unknown[] | undefined): OperationForStep | null {
  const row = rows?.[0] as OperationColumns | undefined;
  return row === undefined ? null : { operation: operationOf(row), records: aggregateOf(row) };
}

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
         request_hash, status_before, request_body, reason, version, created_at, updated_at)`,
      [`(?::uuid, ?, ?, ?, ?, 'QUEUED', 0, ?, ?, ?::jsonb, ?::jsonb, ?, 1, now(), now())`],
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

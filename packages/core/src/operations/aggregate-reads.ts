import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Consent, PostalAddress } from '../entities/business-entity.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { CardStatus, CtpStatus, CustomerStatus, OperationStatus } from '../lifecycle/statuses.ts';
import type { RecordsView } from './ctp-records.ts';
import { defineStatement, queryBound, type Statement } from './sql-session.ts';

/**
 * The hot steps' reads of an entity's aggregate (entity, customer, kits and payments, the
 * in-flight flag, pending syncs) in one statement, the entity lock that comes before, and the
 * request's read with its `Idempotency-Key` replay. See `lifecycle-store.ts`.
 */

/** One kit of the aggregate with its CTP enrolment, as the hot paths read it. */
export interface AggregateKit {
  readonly kit: {
    readonly pkey: string;
    readonly kitNo: string;
    readonly expiryMonth: number;
    readonly expiryYear: number;
    readonly nameOnCard: string;
    readonly status: CardStatus;
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
    readonly status: CustomerStatus;
  };
  readonly customer: {
    readonly pkey: string;
    readonly ctpEntityStatus: CtpStatus;
    readonly clickToPayCustomerId: string | null;
  } | null;
  readonly kits: ReadonlyMap<string, AggregateKit>;
  /** An operation of this entity is `QUEUED` or `IN_PROGRESS`. */
  readonly operationInFlight: boolean;
  /** Queued CTP work waits for this entity: pending syncs, or a running card replacement. */
  readonly syncPending: boolean;
}

/**
 * The columns of the aggregate, for `from business_entity e left join ctp_customer c`. Prefixed
 * so a step's read can add its own columns.
 */
export const AGGREGATE_COLUMNS = `
  e.pkey::text as a_pkey, e.tenant as a_tenant, e.entity_id as a_entity_id, e.first_name as a_first_name,
  e.last_name as a_last_name, e.email as a_email, e.phone_country_code as a_phone_country_code,
  e.phone_number as a_phone_number, e.address as a_address, e.locale as a_locale,
  e.country_code as a_country_code, e.consent as a_consent, e.status as a_status,
  c.pkey::text as a_customer_pkey, c.ctp_entity_status as a_entity_status,
  c."clickToPayCustomerId" as a_customer_id,
  coalesce((select json_agg(json_build_object(
      'pkey', k.pkey::text, 'kitNo', k.kit_no, 'expiryMonth', k.expiry_month,
      'expiryYear', k.expiry_year, 'nameOnCard', k.name_on_card, 'cardStatus', k.status,
      'paymentPkey', p.pkey::text,
      'status', p.ctp_kit_status, 'instrumentId', p."clickToPayPaymentInstumentId") order by k.kit_no)
    from kit k
    -- A probe of the kit's payment by its unique index, whatever the sizes: a plain join (and a
    -- lateral one, which the planner flattens into a plain join) was hashed over a sequential
    -- scan of ctp_payment while it held up to some 15,000 rows and the kits were unanalyzed
    -- (30 kits per entity estimated). OFFSET 0 keeps the subquery a per-kit lookup
    -- (apps/worker/test/aggregate-read-plan.test.ts).
    left join lateral (select pp.pkey, pp.ctp_kit_status, pp."clickToPayPaymentInstumentId"
                         from ctp_payment pp where pp.kit_pkey = k.pkey offset 0) p on true
    where k.business_entity_fkey = e.pkey), '[]'::json) as a_kits,
  exists(select 1 from ctp_operation o where o.tenant = e.tenant and o.entity_id = e.entity_id
    and o.status in ('QUEUED', 'IN_PROGRESS')) as a_in_flight,
  (exists(select 1 from ctp_pending_sync s where s.tenant = e.tenant and s.entity_id = e.entity_id)
    or exists(select 1 from ctp_kit_replacement r where r.tenant = e.tenant and r.entity_id = e.entity_id
                and r.status = 'RUNNING')) as a_sync_pending`;

export const AGGREGATE_FROM = 'business_entity e left join ctp_customer c on c.business_entity_fkey = e.pkey';

export interface AggregateRow {
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
  a_status: CustomerStatus;
  a_customer_pkey: string | null;
  a_entity_status: CtpStatus | null;
  a_customer_id: string | null;
  a_kits: {
    pkey: string;
    kitNo: string;
    expiryMonth: number;
    expiryYear: number;
    nameOnCard: string;
    cardStatus: CardStatus;
    paymentPkey: string | null;
    status: CtpStatus | null;
    instrumentId: string | null;
  }[];
  a_in_flight: boolean;
  a_sync_pending: boolean;
}

export function aggregateOf(row: AggregateRow): Aggregate | null {
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
      status: row.a_status,
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
            status: k.cardStatus,
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
const lockEntityStatement = defineStatement<{ tenant: string; entity_id: string }>(
  'ctp_lock_entity',
  'select 1 as one from business_entity where tenant = $tenant::text and entity_id = $entity_id::text for update',
);

export function lockEntity(tenant: string, entityId: string): Statement {
  return lockEntityStatement({ tenant, entity_id: entityId }, { lock: { tenant, entityId } });
}

/** The aggregate of an entity (after `lockEntity` when the step writes); see `aggregateFrom`. */
const readAggregateStatement = defineStatement<{ tenant: string; entity_id: string }, AggregateRow>(
  'ctp_read_aggregate',
  `select ${AGGREGATE_COLUMNS} from ${AGGREGATE_FROM} where e.tenant = $tenant::text and e.entity_id = $entity_id::text`,
);

export function readAggregate(tenant: string, entityId: string): Statement {
  return readAggregateStatement({ tenant, entity_id: entityId });
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
  const [row] = await queryBound<{ operation: AcceptedOperation }>(
    em,
    `select ${ACCEPTED_OPERATION_JSON} as operation from ctp_operation o where o.tenant = ? and o.idempotency_key = ?`,
    [tenant, idempotencyKey],
  );
  return row?.operation ?? null;
}

/**
 * For a request: the aggregate (no row's columns when the entity does not exist) and, when the
 * client sent an `Idempotency-Key`, the operation it already started with it.
 */
const readForRequestStatement = defineStatement<
  { tenant: string; entity_id: string; idempotency_key: string | null },
  AggregateRow & { replay: AcceptedOperation | null }
>(
  'ctp_read_for_request',
  `select ${AGGREGATE_COLUMNS}, r.replay
     from (select 1) one
     left join (${AGGREGATE_FROM}) on e.tenant = $tenant::text and e.entity_id = $entity_id::text
     left join lateral (select ${ACCEPTED_OPERATION_JSON} as replay from ctp_operation o
                         where o.tenant = $tenant::text and o.idempotency_key = $idempotency_key::text) r on true`,
);

export function readForRequest(
  tenant: string,
  entityId: string,
  idempotencyKey: string | undefined,
): Statement {
  return readForRequestStatement({ tenant, entity_id: entityId, idempotency_key: idempotencyKey ?? null });
}

export function requestReadFrom(rows: unknown[] | undefined): {
  records: Aggregate | null;
  replay: AcceptedOperation | null;
} {
  const row = rows?.[0] as (AggregateRow & { replay: AcceptedOperation | null }) | undefined;
  return { records: row === undefined ? null : aggregateOf(row), replay: row?.replay ?? null };
}

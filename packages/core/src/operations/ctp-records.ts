import { type EntityManager, LockMode } from '@mikro-orm/core';
import { BusinessEntity, type PostalAddress } from '../entities/business-entity.ts';
import { CtpCustomer } from '../entities/ctp-customer.ts';
import { CtpPayment } from '../entities/ctp-payment.ts';
import { Kit } from '../entities/kit.ts';
import type { CtpStatus } from '../lifecycle/statuses.ts';
import type { CtpSnapshot } from '../lifecycle/transitions.ts';
import type { ConsumerSource, InstrumentSource } from '../saas/bodies.ts';

/** An entity with its CTP enrolment and every kit with its own, as one aggregate. */
export interface CtpRecords {
  readonly entity: BusinessEntity;
  customer: CtpCustomer | null;
  readonly kits: Map<string, { readonly kit: Kit; payment: CtpPayment | null }>;
}

/**
 * Loads the aggregate. With `lock`, the business_entity row is locked (`FOR UPDATE`) for the
 * rest of the transaction: every lifecycle step of one entity takes this lock first, so two
 * steps on the same entity (a request and a resolve, a webhook and the poller) run one after
 * the other and each sees the other's statuses.
 */
export async function loadCtpRecords(
  em: EntityManager,
  tenant: string,
  entityId: string,
  options: { lock: boolean },
): Promise<CtpRecords | null> {
  const entity = await em.findOne(
    BusinessEntity,
    { tenant, entityId },
    options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {},
  );
  return entity === null ? null : loadCtpRecordsOf(em, entity, options);
}

/** The aggregate of an entity already loaded (and locked, if the caller needs it). */
export async function loadCtpRecordsOf(
  em: EntityManager,
  entity: BusinessEntity,
  options: { lock: boolean },
): Promise<CtpRecords> {
  const [customer, kits] = await Promise.all([
    em.findOne(CtpCustomer, { businessEntity: entity }, options.lock ? { refresh: true } : {}),
    em.find(Kit, { businessEntity: entity }, { orderBy: { kitNo: 'asc' } }),
  ]);
  const payments =
    kits.length === 0
      ? []
      : await em.find(CtpPayment, { kit: { $in: kits } }, options.lock ? { refresh: true } : {});
  const byKit = new Map(payments.map((payment) => [payment.kit.pkey, payment]));
  return {
    entity,
    customer,
    kits: new Map(kits.map((kit) => [kit.kitNo, { kit, payment: byKit.get(kit.pkey) ?? null }])),
  };
}

/**
 * What reading an aggregate needs, whichever way it was loaded: the unit of work's entities
 * (`CtpRecords`) or one SQL row (`Aggregate`, the hot paths).
 */
export interface RecordsView<K extends InstrumentSource = InstrumentSource> {
  readonly entity: ConsumerSource & { readonly tenant: string; readonly address: PostalAddress };
  readonly customer: {
    readonly ctpEntityStatus: CtpStatus;
    readonly clickToPayCustomerId?: string | null | undefined;
  } | null;
  readonly kits: ReadonlyMap<
    string,
    {
      readonly kit: K;
      readonly payment: {
        readonly ctpKitStatus: CtpStatus;
        readonly clickToPayPaymentInstumentId?: string | null | undefined;
      } | null;
    }
  >;
}

/** The statuses the lifecycle reasons about; a record without a CTP row is `UNREGISTERED`. */
export function snapshotOf(records: RecordsView): CtpSnapshot {
  const kits: Record<string, CtpStatus> = {};
  for (const [kitNo, { payment }] of records.kits) kits[kitNo] = payment?.ctpKitStatus ?? 'UNREGISTERED';
  return { entity: records.customer?.ctpEntityStatus ?? 'UNREGISTERED', kits };
}

/** Why statuses change, for the status history. */
export interface StatusCause {
  /** E.g. `CTP_REGISTER_ENTITY_AND_KIT requested`, `CTP_REMOVE_KIT FAILED`, `network: DISABLED`. */
  readonly cause: string;
  readonly operationId?: string;
  readonly requestTraceId?: string;
}

export interface HistoryOwner {
  readonly tenant: string;
  readonly entityId: string;
}

export interface HistoryChange {
  readonly record: 'entity' | 'kit' | 'trace';
  readonly kitNo?: string | null;
  readonly from: string | null;
  readonly to: string;
}

/** The columns of one status-history row (written by `StepWrites` and `recordAccepted`). */
export function historyRow(owner: HistoryOwner, change: HistoryChange, why: StatusCause) {
  return {
    tenant: owner.tenant,
    entityId: owner.entityId,
    kitNumber: change.kitNo ?? null,
    record: change.record,
    fromStatus: change.from,
    toStatus: change.to,
    cause: why.cause.slice(0, 128),
    operationId: why.operationId ?? null,
    requestTraceId: why.requestTraceId ?? null,
  };
}

import type { EntityManager } from '@mikro-orm/core';
import { BusinessEntity, type PostalAddress } from '../entities/business-entity.ts';
import { CtpCustomer } from '../entities/ctp-customer.ts';
import { CtpPayment } from '../entities/ctp-payment.ts';
import { Kit } from '../entities/kit.ts';
import type { CardStatus, CtpStatus, CustomerStatus } from '../lifecycle/statuses.ts';
import type { CtpSnapshot } from '../lifecycle/transitions.ts';
import type { ConsumerSource, InstrumentSource } from '../saas/bodies.ts';

/** An entity with its CTP enrolment and every kit with its own, as one aggregate. */
export interface CtpRecords {
  readonly entity: BusinessEntity;
  customer: CtpCustomer | null;
  readonly kits: Map<string, { readonly kit: Kit; payment: CtpPayment | null }>;
}

/**
 * Loads the aggregate through the unit of work, for reads (answers, the dashboard, the request a
 * submission builds) and for the automatic-sync hook in a records change's transaction. It takes
 * no lock: the lifecycle steps lock the entity and read it in SQL (`lockEntity`,
 * `readAggregate`).
 */
export async function loadCtpRecords(
  em: EntityManager,
  tenant: string,
  entityId: string,
): Promise<CtpRecords | null> {
  const entity = await em.findOne(BusinessEntity, { tenant, entityId });
  return entity === null ? null : loadCtpRecordsOf(em, entity);
}

/** The aggregate of an entity already loaded. */
export async function loadCtpRecordsOf(em: EntityManager, entity: BusinessEntity): Promise<CtpRecords> {
  const [customer, kits] = await Promise.all([
    em.findOne(CtpCustomer, { businessEntity: entity }),
    em.find(Kit, { businessEntity: entity }, { orderBy: { kitNo: 'asc' } }),
  ]);
  const payments = kits.length === 0 ? [] : await em.find(CtpPayment, { kit: { $in: kits } });
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
  readonly entity: ConsumerSource & {
    readonly tenant: string;
    readonly address: PostalAddress;
    /** The platform's customer status (absent: not read, judged `ACTIVE`). */
    readonly status?: CustomerStatus;
  };
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

/**
 * The statuses the lifecycle reasons about; a record without a CTP row is `UNREGISTERED`. With
 * them the platform's own statuses of the customer and its cards, which refuse enrolments.
 */
export function snapshotOf(records: RecordsView): CtpSnapshot {
  const kits: Record<string, CtpStatus> = {};
  const cards: Record<string, CardStatus> = {};
  for (const [kitNo, { kit, payment }] of records.kits) {
    kits[kitNo] = payment?.ctpKitStatus ?? 'UNREGISTERED';
    // Both loaders read the card's status (`Kit`, `Aggregate`); a view without it is judged `ACTIVE`.
    cards[kitNo] = (kit as { readonly status?: CardStatus }).status ?? 'ACTIVE';
  }
  return {
    entity: records.customer?.ctpEntityStatus ?? 'UNREGISTERED',
    kits,
    records: { customer: records.entity.status ?? 'ACTIVE', cards },
  };
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

/** The columns of one status-history row (`StepWrites`; `recordAccepted` writes its one row in SQL). */
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

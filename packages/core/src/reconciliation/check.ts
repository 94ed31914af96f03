import { randomUUID } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Logger } from 'pino';
import { maskPansIn } from '../cards/pan.ts';
import type { NetworkData } from '../contracts/saas.ts';
import type { DriftAction, ReconciliationOutcome } from '../entities/ctp-reconciliation.ts';
import type { ReconcileReport } from '../lifecycle/rules.ts';
import type { CtpStatus } from '../lifecycle/statuses.ts';
import { type CtpSnapshot, reconcileSnapshot } from '../lifecycle/transitions.ts';
import type { ReconcileMetrics } from '../metrics/reconcile.ts';
import { buildStatusChangedNotification } from '../notifications/payloads.ts';
import { type PendingSync, pendingSyncStatements } from '../operations/automatic-sync.ts';
import { snapshotOf } from '../operations/ctp-records.ts';
import {
  type Aggregate,
  aggregateFrom,
  lockEntity,
  readAggregate,
  StepWrites,
} from '../operations/lifecycle-store.ts';
import { outboxNotificationRow } from '../operations/outbox.ts';
import { SqlSession, type Statement } from '../operations/sql-session.ts';
import { SaasError } from '../saas/errors.ts';
import { type DriftRow, itemCheckedStatements, readKitLastFour } from './store.ts';

/** The history's reason, and the notification's, for a status a reconciliation set. */
export const RECONCILED = 'RECONCILED' as const;

export interface ReconcileDependencies {
  readonly em: EntityManager;
  readonly saas: { getData(tenant: string, externalConsumerId: string): Promise<NetworkData> };
  readonly logger?: Logger | undefined;
  readonly metrics?: ReconcileMetrics | undefined;
}

export interface CheckRequest {
  readonly tenant: string;
  readonly entityId: string;
  readonly dryRun: boolean;
  /** The reconciliation this check belongs to (its item and drifts are recorded with it); null: none. */
  readonly reconciliationId: string | null;
}

export interface CheckResult {
  readonly outcome: ReconciliationOutcome;
  readonly repaired: boolean;
  readonly error: string | null;
  readonly drifts: readonly DriftRow[];
}

/** `/getData`: what the network holds, or null when it holds nothing (404). */
type Fetched =
  | { readonly ok: true; readonly network: NetworkData | null }
  | { readonly ok: false; readonly error: string };

/** A card number the inbound gate masked (`text/inbound.ts`): first 6, masked middle, last 4. */
const MASKED_PAN = /[0-9]{6}\*{3,9}[0-9]{4}/;

function withoutCardNumber(network: NetworkData): Fetched {
  if (MASKED_PAN.test(JSON.stringify(network)))
    return { ok: false, error: "the network's answer carried a card number (masked here); not compared" };
  return { ok: true, network };
}

async function fetchNetwork(deps: ReconcileDependencies, tenant: string, entityId: string): Promise<Fetched> {
  try {
    return withoutCardNumber(await deps.saas.getData(tenant, entityId));
  } catch (error) {
    if (error instanceof SaasError && error.status === 404) return { ok: true, network: null };
    if (error instanceof SaasError)
      return { ok: false, error: maskPansIn(`${error.code}: ${error.message}`) };
    throw error;
  }
}

/**
 * Checks one entity against `/getData` and, unless a dry run, repairs what the network is the
 * truth for. `fetched`: an answer the caller already has (M2P's `fetchEntityDetails`), instead of
 * asking again.
 *
 * The SaaS is asked before the entity lock is taken (no lock is held across a network call); the
 * comparison and every write then happen under the lock, in one transaction, like every other
 * lifecycle step: statuses and ids set through `reconcileSnapshot` and `StepWrites.applySnapshot`
 * (history reason `RECONCILED`), one `CTP_STATUS_CHANGED` notification per changed record through
 * the outbox, stale data queued as automatic updates, and the item with its drifts recorded. An
 * entity with an operation in flight, before or under the lock, is skipped: the operation's
 * outcome owns its statuses.
 */
export async function reconcileEntity(
  deps: ReconcileDependencies,
  request: CheckRequest,
  fetched?: NetworkData | null,
): Promise<CheckResult> {
  const { tenant, entityId } = request;
  const run = request.reconciliationId === null ? null : { id: request.reconciliationId, tenant };
  const record = (result: CheckResult): Statement[] =>
    run === null ? [] : itemCheckedStatements(run, entityId, result);

  const first = aggregateFrom(await SqlSession.runAlone(deps.em, readAggregate(tenant, entityId)));
  let result: CheckResult;
  if (first === null) {
    result = { outcome: 'ERROR', repaired: false, error: 'the entity no longer exists', drifts: [] };
    await SqlSession.transaction(deps.em, (session) => session.run(record(result), { commit: true }));
  } else if (first.operationInFlight) {
    result = skipped(entityId);
    await SqlSession.transaction(deps.em, (session) => session.run(record(result), { commit: true }));
  } else {
    const answer: Fetched =
      fetched === undefined
        ? await fetchNetwork(deps, tenant, entityId)
        : fetched === null
          ? { ok: true, network: null }
          : withoutCardNumber(fetched);
    if (!answer.ok) {
      result = { outcome: 'ERROR', repaired: false, error: answer.error, drifts: [] };
      await SqlSession.transaction(deps.em, (session) => session.run(record(result), { commit: true }));
      deps.logger?.warn({ tenant, entityId, error: answer.error }, 'reconciliation: entity not checked');
    } else {
      result = await SqlSession.transaction(deps.em, async (session) => {
        const [, read, lastFour] = await session.run([
          lockEntity(tenant, entityId),
          readAggregate(tenant, entityId),
          readKitLastFour(tenant, entityId),
        ]);
        const records = aggregateFrom(read);
        if (records === null) {
          const gone: CheckResult = {
            outcome: 'ERROR',
            repaired: false,
            error: 'the entity no longer exists',
            drifts: [],
          };
          await session.run(record(gone), { commit: true });
          return gone;
        }
        const last4 = new Map(
          (lastFour as { kit_no: string; pan_last4: string }[]).map((row) => [row.kit_no, row.pan_last4]),
        );
        const writes = new StepWrites();
        // What the network said was read before the lock: if an operation or a webhook changed
        // the entity since, the answer may be older than our records, so it is not applied.
        const checked =
          records.operationInFlight || standing(records) !== standing(first)
            ? { result: skipped(entityId), statements: [] }
            : compareAndRepair(records, last4, answer.network, request, writes);
        await session.run([...writes.statements(), ...checked.statements, ...record(checked.result)], {
          commit: true,
        });
        return checked.result;
      });
    }
  }
  deps.metrics?.checked.inc();
  for (const drift of result.drifts) deps.metrics?.drift.inc({ field: drift.field, action: drift.action });
  return result;
}

/** The statuses and network ids of an aggregate, to tell whether it changed between two reads. */
function standing(records: Aggregate): string {
  return JSON.stringify([
    records.customer?.ctpEntityStatus ?? null,
    records.customer?.clickToPayCustomerId ?? null,
    [...records.kits].map(([kitNo, { payment }]) => [
      kitNo,
      payment?.ctpKitStatus ?? null,
      payment?.clickToPayPaymentInstumentId ?? null,
    ]),
  ]);
}

function skipped(entityId: string): CheckResult {
  return {
    outcome: 'SKIPPED',
    repaired: false,
    error: null,
    drifts: [
      {
        entityId,
        kitNo: null,
        field: 'operation',
        ours: 'IN_FLIGHT',
        network: null,
        action: 'SKIPPED_IN_FLIGHT',
      },
    ],
  };
}

const expiryOf = (month: string | number, year: string | number) =>
  `${String(month).padStart(2, '0')}/${year}`;

/**
 * The comparison, and the repair's writes gathered into `writes` (none in a dry run). Statuses and
 * ids: the network wins. Profile and card data: ours wins, and the network gets an update.
 */
function compareAndRepair(
  records: Aggregate,
  last4: ReadonlyMap<string, string>,
  network: NetworkData | null,
  request: CheckRequest,
  writes: StepWrites,
): { result: CheckResult; statements: Statement[] } {
  const { tenant, entityId, dryRun } = request;
  const drifts: DriftRow[] = [];
  const drift = (
    kitNo: string | null,
    field: string,
    ours: string | null,
    theirs: string | null,
    action: DriftAction,
  ) => drifts.push({ entityId, kitNo, field, ours, network: theirs, action });

  const current = snapshotOf(records);
  const instruments = new Map((network?.paymentInstruments ?? []).map((i) => [i.externalInstrumentId, i]));
  const report = {
    entity: (network?.status ?? 'ABSENT') as ReconcileReport,
    kits: Object.fromEntries([...instruments].map(([kitNo, i]) => [kitNo, i.status as ReconcileReport])),
  };
  const reconciled = reconcileSnapshot(current, report);
  if (!reconciled.ok) return { result: skipped(entityId), statements: [] };
  const next = reconciled.value;
  const repair: DriftAction = dryRun ? 'WOULD_REPAIR' : 'REPAIRED';
  const update: DriftAction = dryRun ? 'WOULD_UPDATE' : 'UPDATE_QUEUED';

  // Statuses and the network's ids.
  if (next.entity !== current.entity) drift(null, 'ctpEntityStatus', current.entity, report.entity, repair);
  const onNetwork = (s: CtpStatus) => s === 'ACTIVE' || s === 'DISABLED';
  const ourCustomerId = records.customer?.clickToPayCustomerId ?? null;
  const customerId =
    network !== null && onNetwork(next.entity) && network.clickToPayCustomerId !== ourCustomerId
      ? network.clickToPayCustomerId
      : undefined;
  if (customerId !== undefined) drift(null, 'clickToPayCustomerId', ourCustomerId, customerId, repair);
  const instrumentIds = new Map<string, string>();
  for (const [kitNo, status] of Object.entries(next.kits)) {
    const was = current.kits[kitNo] ?? 'UNREGISTERED';
    if (status !== was) drift(kitNo, 'ctpKitStatus', was, report.kits[kitNo] ?? 'ABSENT', repair);
    const instrument = instruments.get(kitNo);
    const ours = records.kits.get(kitNo)?.payment?.clickToPayPaymentInstumentId ?? null;
    if (instrument !== undefined && onNetwork(status) && instrument.clickToPayPaymentInstrumentId !== ours) {
      instrumentIds.set(kitNo, instrument.clickToPayPaymentInstrumentId);
      drift(kitNo, 'clickToPayPaymentInstrumentId', ours, instrument.clickToPayPaymentInstrumentId, repair);
    }
  }
  for (const [kitNo, instrument] of instruments) {
    if (!records.kits.has(kitNo) && instrument.status !== 'REMOVED')
      drift(kitNo, 'paymentInstrument', null, instrument.clickToPayPaymentInstrumentId, 'REPORTED');
  }
  const statusDrifts = drifts.length;

  // Data the network holds out of date: ours is sent again.
  const syncs: PendingSync[] = [];
  // A consumer the network removed keeps its last data there; it is no one's to update.
  if (network !== null && network.status !== 'REMOVED') {
    const e = records.entity;
    const consumer = network.consumer;
    const phone = consumer.phones[0];
    const fields: [string, string, string | null][] = [
      ['firstName', e.firstName, consumer.firstName],
      ['lastName', e.lastName, consumer.lastName],
      ['email', e.email, consumer.emails[0] ?? null],
      [
        'phone',
        `${e.phoneCountryCode} ${e.phoneNumber}`,
        phone === undefined ? null : `${phone.countryCode} ${phone.number}`,
      ],
      ['locale', e.locale, consumer.locale],
      ['countryCode', e.countryCode, consumer.countryCode],
    ];
    const canUpdate = next.entity === 'ACTIVE' && network.status === 'ACTIVE';
    for (const [field, ours, theirs] of fields) {
      if (ours !== theirs) drift(null, field, ours, theirs, canUpdate ? update : 'REPORTED');
    }
    if (canUpdate && drifts.length > statusDrifts) syncs.push({ event: 'CTP_UPDATE_ENTITY', kitNo: '' });
    for (const [kitNo, instrument] of instruments) {
      const kit = records.kits.get(kitNo)?.kit;
      if (kit === undefined) continue;
      const kitUpdate = canUpdate && next.kits[kitNo] === 'ACTIVE' && instrument.status === 'ACTIVE';
      const action = kitUpdate ? update : 'REPORTED';
      let stale = false;
      const ourExpiry = expiryOf(kit.expiryMonth, kit.expiryYear);
      const theirExpiry = expiryOf(instrument.expirationDate.month, instrument.expirationDate.year);
      if (ourExpiry !== theirExpiry) {
        drift(kitNo, 'expiry', ourExpiry, theirExpiry, action);
        stale = true;
      }
      const ourLast4 = last4.get(kitNo) ?? null;
      if (ourLast4 !== null && ourLast4 !== instrument.panLastFour) {
        drift(kitNo, 'panLastFour', ourLast4, instrument.panLastFour, action);
        stale = true;
      }
      if (stale && kitUpdate) syncs.push({ event: 'CTP_UPDATE_KIT', kitNo });
    }
  }

  const statements: Statement[] = [];
  const changed = !sameSnapshot(current, next) || customerId !== undefined || instrumentIds.size > 0;
  if (!dryRun) {
    if (changed) applyRepair(records, current, next, { customerId, instrumentIds }, writes);
    if (changed) notify(records, current, next, { customerId, instrumentIds }, writes, tenant);
    if (syncs.length > 0) {
      const { statement, promotion } = pendingSyncStatements(tenant, entityId, syncs);
      statements.push(statement);
      writes.outbox(promotion);
    }
  }
  return {
    result: {
      outcome: drifts.length === 0 ? 'AGREED' : 'DRIFTED',
      repaired: !dryRun && (changed || syncs.length > 0),
      error: null,
      drifts,
    },
    statements,
  };
}

function sameSnapshot(a: CtpSnapshot, b: CtpSnapshot): boolean {
  return a.entity === b.entity && Object.entries(b.kits).every(([kitNo, s]) => a.kits[kitNo] === s);
}

interface IdRepairs {
  readonly customerId: string | undefined;
  readonly instrumentIds: ReadonlyMap<string, string>;
}

/**
 * `applySnapshot` stores one kit's network id per call; each further kit whose id changes gets a
 * call of its own that changes nothing else. An entity without a `ctp_customer` row yet (the
 * network holds a consumer we never enrolled) gets its first kit's id now, the others' at the
 * next reconciliation (the row the first call inserts is not there to update yet).
 */
function applyRepair(
  records: Aggregate,
  current: CtpSnapshot,
  next: CtpSnapshot,
  ids: IdRepairs,
  writes: StepWrites,
) {
  const why = { cause: RECONCILED };
  const idKits = [...ids.instrumentIds];
  const [firstId, ...otherIds] = idKits;
  const firstKits = Object.fromEntries(
    Object.entries(next.kits).filter(([kitNo]) => !otherIds.some(([k]) => k === kitNo)),
  );
  writes.applySnapshot(records, { entity: next.entity, kits: firstKits }, why, {
    ...(ids.customerId === undefined ? {} : { clickToPayCustomerId: ids.customerId }),
    ...(firstId === undefined ? {} : { kitNo: firstId[0], clickToPayPaymentInstrumentId: firstId[1] }),
  });
  if (records.customer === null) return;
  for (const [kitNo, instrumentId] of otherIds) {
    writes.applySnapshot(
      records,
      {
        entity: current.entity,
        kits: { [kitNo]: next.kits[kitNo] ?? current.kits[kitNo] ?? 'UNREGISTERED' },
      },
      why,
      { kitNo, clickToPayPaymentInstrumentId: instrumentId },
    );
  }
}

/** One `CTP_STATUS_CHANGED` (reason `RECONCILED`) per record whose status or id changed. */
function notify(
  records: Aggregate,
  current: CtpSnapshot,
  next: CtpSnapshot,
  ids: IdRepairs,
  writes: StepWrites,
  tenant: string,
) {
  const occurredAt = new Date().toISOString();
  const customerId = ids.customerId ?? records.customer?.clickToPayCustomerId ?? null;
  const announce = (kitNo: string | null, status: CtpStatus) =>
    writes.outbox(
      outboxNotificationRow({
        tenant,
        notificationId: randomUUID(),
        payload: buildStatusChangedNotification({
          tenant,
          entityId: records.entity.entityId,
          kitNo,
          ...(kitNo === null ? { ctpEntityStatus: status } : { ctpKitStatus: status }),
          clickToPayCustomerId: customerId,
          clickToPayPaymentInstrumentId:
            kitNo === null
              ? null
              : (ids.instrumentIds.get(kitNo) ??
                records.kits.get(kitNo)?.payment?.clickToPayPaymentInstumentId ??
                null),
          occurredAt,
          reason: RECONCILED,
        }),
      }),
    );
  if (next.entity !== current.entity || ids.customerId !== undefined) announce(null, next.entity);
  for (const [kitNo, status] of Object.entries(next.kits)) {
    if (status !== current.kits[kitNo] || ids.instrumentIds.has(kitNo)) announce(kitNo, status);
  }
}

import { randomUUID } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { SyncEvent } from '../entities/ctp-pending-sync.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { CtpStatus } from '../lifecycle/statuses.ts';
import { planRequest } from '../lifecycle/transitions.ts';
import type { RecordWork } from '../records/kits.ts';
import { activeTraceparent } from '../tracing/context.ts';
import { loadCtpRecords, snapshotOf } from './ctp-records.ts';
import {
  advanceReplacements,
  DEFAULT_REPLACEMENT_OPTIONS,
  type ReplacementOptions,
} from './kit-replacement.ts';
import { aggregateFrom, lockEntity, readAggregate, StepWrites } from './lifecycle-store.ts';
import { insertOutboxRows, type OutboxRow, outboxJobRow } from './outbox.ts';
import { requestFingerprint, startOperation } from './request-operation.ts';
import { defineStatement, SqlSession, type Statement } from './sql-session.ts';

/**
 * Every write of `ctp_pending_sync` is in this module.
 *
 * Automatic CTP updates (seed, "Automatic CTP Updates"): a committed profile or card change
 * reaches the network by itself. The change's own transaction writes a pending sync and the
 * outbox row of a job that promotes it, so a rolled-back change starts nothing and a committed
 * one is never lost, whatever dies after the commit. Pending syncs coalesce (one row per
 * entity, event and kit), wait for an operation in flight instead of being refused, and are
 * built from the records when they run, so the network ends with the latest committed data.
 */

/** Fields of the customer that the SaaS's consumer object carries. */
const CONSUMER_FIELDS = new Set([
  'firstName',
  'lastName',
  'email',
  'phone',
  'locale',
  'countryCode',
  'consent',
]);
/** The billing address travels with each payment instrument. */
const INSTRUMENT_FIELDS_OF_ENTITY = new Set(['address']);

/**
 * Statuses whose record must receive the change: on the network now (`ACTIVE`), or about to be
 * (`REGISTRATION_IN_PROGRESS`: the registration may have sent the old data; the pending sync
 * runs after it and is dropped if the registration fails).
 */
const SYNCED_STATUSES: readonly CtpStatus[] = ['ACTIVE', 'REGISTRATION_IN_PROGRESS'];

export interface PendingSync {
  readonly event: SyncEvent;
  readonly kitNo: string;
}

export interface EntityChangeForSync {
  readonly tenant: string;
  readonly entityId: string;
  readonly created: boolean;
  readonly changed: readonly string[];
}

export interface KitChangeForSync extends EntityChangeForSync {
  readonly kitNo: string;
}

/** Runs inside an entity change's transaction (the api's `onEntityChanged` hook). */
export async function syncOnEntityChange(tx: EntityManager, change: EntityChangeForSync): Promise<number> {
  if (change.created || change.changed.length === 0) return 0;
  const records = await loadCtpRecords(tx, change.tenant, change.entityId);
  if (records === null) return 0;
  const snapshot = snapshotOf(records);
  const syncs: PendingSync[] = [];
  if (
    change.changed.some((field) => CONSUMER_FIELDS.has(field)) &&
    SYNCED_STATUSES.includes(snapshot.entity)
  ) {
    syncs.push({ event: 'CTP_UPDATE_ENTITY', kitNo: '' });
  }
  if (change.changed.some((field) => INSTRUMENT_FIELDS_OF_ENTITY.has(field))) {
    for (const [kitNo, status] of Object.entries(snapshot.kits)) {
      if (SYNCED_STATUSES.includes(status)) syncs.push({ event: 'CTP_UPDATE_KIT', kitNo });
    }
  }
  return queuePendingSyncs(tx, change.tenant, change.entityId, syncs);
}

/** Runs inside a card change's transaction (new expiry, name on card, reissued PAN). */
export async function syncOnKitChange(tx: EntityManager, change: KitChangeForSync): Promise<number> {
  if (change.created || change.changed.length === 0) return 0;
  const records = await loadCtpRecords(tx, change.tenant, change.entityId);
  const status = records === null ? undefined : snapshotOf(records).kits[change.kitNo];
  if (status === undefined || !SYNCED_STATUSES.includes(status)) return 0;
  return queuePendingSyncs(tx, change.tenant, change.entityId, [
    { event: 'CTP_UPDATE_KIT', kitNo: change.kitNo },
  ]);
}

/** Statuses of a record that is not on Click to Pay and not on its way there: nothing to remove. */
const OFF_NETWORK: readonly CtpStatus[] = ['UNREGISTERED', 'REMOVED'];

/**
 * Runs inside a card or customer status change's transaction (the api's `RecordWorkHook`): queues
 * the CTP work the change starts (the removal of a closed card or customer) as pending work, behind
 * any operation in flight for the entity. A record that is not on Click to Pay queues nothing; one
 * whose enrolment is still running queues its removal after it (dropped at promotion if the
 * enrolment failed).
 */
export async function queueRecordWork(tx: EntityManager, work: RecordWork): Promise<number> {
  const records = await loadCtpRecords(tx, work.tenant, work.entityId);
  if (records === null) return 0;
  const snapshot = snapshotOf(records);
  const status = work.kitNo === undefined ? snapshot.entity : snapshot.kits[work.kitNo];
  if (status === undefined || OFF_NETWORK.includes(status)) return 0;
  return queuePendingSyncs(tx, work.tenant, work.entityId, [{ event: work.event, kitNo: work.kitNo ?? '' }]);
}

export async function queuePendingSyncs(
  tx: EntityManager,
  tenant: string,
  entityId: string,
  syncs: readonly PendingSync[],
): Promise<number> {
  if (syncs.length === 0) return 0;
  // One statement for the set, in the caller's (ORM) transaction: its connection, bound values.
  const { rows } = await sql<{
    pkey: string;
  }>`insert into ctp_pending_sync (tenant, entity_id, event, kit_number, created_at)
      select ${tenant}, ${entityId}, r.event, r."kitNo", now()
        from jsonb_to_recordset(${JSON.stringify(syncs)}::jsonb) as r(event text, "kitNo" text)
      on conflict on constraint uq_ctp_pending_sync do nothing returning pkey`.execute(tx.getKysely());
  // A sync already pending is coalesced: it will send the latest data when it runs.
  if (rows.length > 0) await insertOutboxRows(tx, [promotionOutboxRow(tenant, entityId)]);
  return rows.length;
}

const insertPendingSyncs = defineStatement<{ tenant: string; entity_id: string; syncs: string }>(
  'ctp_pending_sync_insert',
  `insert into ctp_pending_sync (tenant, entity_id, event, kit_number, created_at)
     select $tenant::text, $entity_id::text, r.event, r."kitNo", now()
       from jsonb_to_recordset($syncs::jsonb) as r(event text, "kitNo" text)
   on conflict on constraint uq_ctp_pending_sync do nothing`,
);

/**
 * The same automatic updates from a step that runs on `SqlSession` (a reconciliation that found
 * the network holding stale data): the pending syncs and their promote job, to send with the
 * step's commit. Coalesced with any already pending, promoted like every other.
 */
export function pendingSyncStatements(
  tenant: string,
  entityId: string,
  syncs: readonly PendingSync[],
): { statement: Statement; promotion: OutboxRow } {
  return {
    statement: insertPendingSyncs({ tenant, entity_id: entityId, syncs: JSON.stringify(syncs) }),
    promotion: promotionOutboxRow(tenant, entityId),
  };
}

/** The outbox row of a promote job (each its own job: promotion is idempotent). */
export function promotionOutboxRow(tenant: string, entityId: string): OutboxRow {
  return outboxJobRow('promoteSyncs', { tenant, key: randomUUID(), data: { tenant, entityId } });
}

const dropPendingSyncs = defineStatement<{ tenant: string; entity_id: string }>(
  'ctp_pending_sync_drop',
  'delete from ctp_pending_sync where tenant = $tenant::text and entity_id = $entity_id::text',
);

const takeOldestPendingSync = defineStatement<
  { tenant: string; entity_id: string },
  { pkey: string; event: SyncEvent; kit_number: string }
>(
  'ctp_pending_sync_take',
  `delete from ctp_pending_sync where pkey = (
     select pkey from ctp_pending_sync where tenant = $tenant::text and entity_id = $entity_id::text
      order by pkey limit 1 for update skip locked)
   returning pkey, event, kit_number`,
);

export type PromotionResult = 'started' | 'waiting' | 'idle';

export interface PromotionOptions {
  readonly replacement?: ReplacementOptions;
  /** A failed replacement step is due again in `ms`: schedule a promotion then (after the commit). */
  readonly onRetryLater?: (ms: number) => Promise<unknown>;
}

/**
 * Starts the entity's next queued CTP work, if none is in flight: first the next step of a card
 * replacement (`advanceReplacements`), else the oldest pending sync as an ordinary operation. A
 * sync the lifecycle no longer allows (the entity or kit was removed, or never got enrolled) is
 * dropped with a log line and no SaaS call.
 */
export async function promotePendingSyncs(
  em: EntityManager,
  tenant: string,
  entityId: string,
  logger?: Logger,
  options: PromotionOptions = {},
): Promise<PromotionResult> {
  let retryInMs: number | null = null;
  const result = await SqlSession.transaction(em, async (session): Promise<PromotionResult> => {
    const [, read] = await session.run([lockEntity(tenant, entityId), readAggregate(tenant, entityId)]);
    const records = aggregateFrom(read);
    if (records === null) {
      await session.run([dropPendingSyncs({ tenant, entity_id: entityId })]);
      logger?.info({ tenant, entityId }, 'pending syncs dropped: the entity no longer exists');
      return 'idle';
    }
    if (records.operationInFlight) return 'waiting';
    const writes = new StepWrites();
    const advance = await advanceReplacements(
      session,
      records,
      writes,
      options.replacement ?? DEFAULT_REPLACEMENT_OPTIONS,
      logger,
    );
    retryInMs = advance.retryInMs;
    if (advance.started !== null) {
      await session.run([...writes.statements(), ...advance.statements], { commit: true });
      return 'started';
    }
    for (;;) {
      const [deleted] = await session.run([takeOldestPendingSync({ tenant, entity_id: entityId })]);
      const row = deleted?.[0] as { pkey: string; event: SyncEvent; kit_number: string } | undefined;
      if (row === undefined) {
        await session.run(advance.statements, { commit: true });
        return 'idle';
      }
      const kitNo = row.kit_number === '' ? undefined : row.kit_number;
      const snapshot = snapshotOf(records);
      // An auto-enrolment registers the entity with the card, or adds the card to it once enrolled.
      const event: CtpEvent =
        row.event === 'CTP_REGISTER_ENTITY_AND_KIT' && snapshot.entity === 'ACTIVE'
          ? 'CTP_ADD_KIT'
          : row.event;
      const plan = planRequest(event, snapshot, kitNo);
      if (!plan.ok) {
        logger?.info(
          { tenant, entityId, event, kitNo, reason: plan.error.message },
          'automatic sync dropped',
        );
        continue;
      }
      const request = {
        tenant,
        event,
        entityId,
        ...(kitNo === undefined ? {} : { kitNo }),
        traceparent: activeTraceparent(),
      };
      const operation = startOperation(writes, records, request, plan.value, requestFingerprint(request));
      await session.run([...writes.statements(), ...advance.statements], { commit: true });
      logger?.info({ tenant, entityId, operationId: operation.id, event, kitNo }, 'automatic sync started');
      return 'started';
    }
  });
  if (retryInMs !== null && options.onRetryLater !== undefined) await options.onRetryLater(retryInMs);
  return result;
}

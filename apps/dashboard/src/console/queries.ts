import { AuditLog, CtpOperation, CtpRequestIdTracking } from '@ctp/core/entities';
import { type CtpRecords, loadCtpRecords } from '@ctp/core/operations';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';

/**
 * The console's reads, across every tenant (the dashboard is the operators' tool, not a
 * tenant's). Each is one query bounded by a LIMIT or a GROUP BY, so a page stays fast; the
 * counts and the last hour scan their tables, which is fine at a bank's volumes and the first
 * thing to give an index (`ctp_operation.completed_at`) if it is not.
 */

export interface StatusCount {
  readonly tenant: string;
  readonly status: string;
  readonly count: number;
}

export interface StatusCounts {
  readonly entities: readonly StatusCount[];
  readonly kits: readonly StatusCount[];
  readonly traces: readonly StatusCount[];
  readonly operations: readonly StatusCount[];
}

type CountRow = { tenant: string; status: string; count: string | number };
const counts = (rows: CountRow[]): StatusCount[] =>
  rows.map((row) => ({ tenant: row.tenant, status: row.status, count: Number(row.count) }));

export async function statusCounts(em: EntityManager): Promise<StatusCounts> {
  const db = em.fork();
  const [entities, kits, traces, operations] = await Promise.all([
    // A record without a CTP row has never entered CTP: it is UNREGISTERED.
    db.execute<CountRow[]>(
      `select be.tenant, coalesce(c.ctp_entity_status, 'UNREGISTERED') as status, count(*) as count
         from business_entity be left join ctp_customer c on c.business_entity_fkey = be.pkey
        group by 1, 2 order by 1, 2`,
    ),
    db.execute<CountRow[]>(
      `select k.tenant, coalesce(p.ctp_kit_status, 'UNREGISTERED') as status, count(*) as count
         from kit k left join ctp_payment p on p.kit_pkey = k.pkey
        group by 1, 2 order by 1, 2`,
    ),
    db.execute<CountRow[]>(
      `select tenant, status_ctp as status, count(*) as count from "ctp_requestIdTracking"
        group by 1, 2 order by 1, 2`,
    ),
    db.execute<CountRow[]>(
      `select tenant, status, count(*) as count from ctp_operation group by 1, 2 order by 1, 2`,
    ),
  ]);
  return {
    entities: counts(entities),
    kits: counts(kits),
    traces: counts(traces),
    operations: counts(operations),
  };
}

export interface OperationRow {
  readonly id: string;
  readonly tenant: string;
  readonly event: string;
  readonly entityId: string;
  readonly kitNo: string | null;
  readonly status: string;
  readonly attempts: number;
  readonly requestTraceId: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly errorDetails: string | null;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
  readonly traceparent: string | null;
}

type RawOperation = {
  id: string;
  tenant: string;
  event: string;
  entity_id: string;
  kit_number: string | null;
  status: string;
  attempts: number;
  request_trace_id: string | null;
  error_code: string | null;
  error_message: string | null;
  error_details: string | null;
  created_at: Date;
  completed_at: Date | null;
  traceparent: string | null;
};

const OPERATION_COLUMNS = `id, tenant, event, entity_id, kit_number, status, attempts, request_trace_id,
  error_code, error_message, error_details, created_at, completed_at, traceparent`;

const operationRow = (row: RawOperation): OperationRow => ({
  id: row.id,
  tenant: row.tenant,
  event: row.event,
  entityId: row.entity_id,
  kitNo: row.kit_number,
  status: row.status,
  attempts: Number(row.attempts),
  requestTraceId: row.request_trace_id,
  errorCode: row.error_code,
  errorMessage: row.error_message,
  errorDetails: row.error_details,
  createdAt: new Date(row.created_at),
  completedAt: row.completed_at === null ? null : new Date(row.completed_at),
  traceparent: row.traceparent,
});

/** Operations not finished yet, oldest first: the ones at the top are what is stuck. */
export async function oldestOperationsInFlight(em: EntityManager, limit = 20): Promise<OperationRow[]> {
  const rows = await em.fork().execute<RawOperation[]>(
    `select ${OPERATION_COLUMNS} from ctp_operation
      where status in ('QUEUED', 'IN_PROGRESS') order by created_at limit ?`,
    [limit],
  );
  return rows.map(operationRow);
}

export async function recentFailures(em: EntityManager, limit = 20): Promise<OperationRow[]> {
  const rows = await em.fork().execute<RawOperation[]>(
    `select ${OPERATION_COLUMNS} from ctp_operation
      where status = 'FAILED' order by completed_at desc nulls last limit ?`,
    [limit],
  );
  return rows.map(operationRow);
}

export interface TraceRow {
  readonly requestTraceId: string;
  readonly tenant: string;
  readonly event: string;
  readonly entityId: string;
  readonly kitNo: string | null;
  readonly operationId: string;
  readonly pollAttempts: number;
  readonly nextPollAt: Date | null;
  readonly createdAt: Date;
}

export async function oldestTracesInProgress(em: EntityManager, limit = 20): Promise<TraceRow[]> {
  const rows = await em.fork().execute<
    {
      request_trace_ID: string;
      tenant: string;
      event: string;
      entity_id: string;
      kit_number: string | null;
      operation_id: string;
      poll_attempts: number;
      next_poll_at: Date | null;
      created_at: Date;
    }[]
  >(
    `select "request_trace_ID", tenant, event, entity_id, kit_number, operation_id, poll_attempts,
            next_poll_at, created_at
       from "ctp_requestIdTracking" where status_ctp = 'IN_PROGRESS' order by created_at limit ?`,
    [limit],
  );
  return rows.map((row) => ({
    requestTraceId: row.request_trace_ID,
    tenant: row.tenant,
    event: row.event,
    entityId: row.entity_id,
    kitNo: row.kit_number,
    operationId: row.operation_id,
    pollAttempts: Number(row.poll_attempts),
    nextPollAt: row.next_poll_at === null ? null : new Date(row.next_poll_at),
    createdAt: new Date(row.created_at),
  }));
}

export interface ParkedWebhook {
  readonly webhookId: string;
  readonly tenant: string;
  readonly type: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly receivedAt: Date;
  readonly parkedAt: Date;
}

/**
 * Webhook deliveries parked after their tries were spent, newest first: each needs a human (the
 * `ctp_webhooks_parked` gauge counts them). Reads `idx_ctp_webhook_inbox_parked`.
 */
export async function parkedWebhooks(em: EntityManager, limit = 20): Promise<ParkedWebhook[]> {
  const rows = await em.fork().execute<
    {
      webhook_id: string;
      tenant: string;
      type: string;
      attempts: number;
      last_error: string | null;
      received_at: Date;
      parked_at: Date;
    }[]
  >(
    `select webhook_id, tenant, type, attempts, last_error, received_at, parked_at from ctp_webhook_inbox
      where parked_at is not null order by parked_at desc limit ?`,
    [limit],
  );
  return rows.map((row) => ({
    webhookId: row.webhook_id,
    tenant: row.tenant,
    type: row.type,
    attempts: Number(row.attempts),
    lastError: row.last_error,
    receivedAt: new Date(row.received_at),
    parkedAt: new Date(row.parked_at),
  }));
}

export interface MinuteBucket {
  /** Minutes before now (59 … 0). */
  readonly minutesAgo: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** Operations that ended in each of the last 60 minutes, by outcome; empty minutes included. */
export async function lastHourThroughput(em: EntityManager): Promise<MinuteBucket[]> {
  const rows = await em.fork().execute<{ minutes_ago: number; succeeded: string; failed: string }[]>(
    `select floor(extract(epoch from now() - completed_at) / 60)::int as minutes_ago,
            count(*) filter (where status = 'SUCCESS') as succeeded,
            count(*) filter (where status = 'FAILED') as failed
       from ctp_operation
      where completed_at > now() - interval '1 hour'
      group by 1`,
  );
  const byMinute = new Map(rows.map((row) => [Number(row.minutes_ago), row]));
  return Array.from({ length: 60 }, (_, i) => {
    const minutesAgo = 59 - i;
    const row = byMinute.get(minutesAgo);
    return {
      minutesAgo,
      succeeded: Number(row?.succeeded ?? 0),
      failed: Number(row?.failed ?? 0),
    };
  });
}

export interface EntityMatch {
  readonly tenant: string;
  readonly entityId: string;
  readonly matchedKitNo: string | null;
}

/** Entities whose id, or one of whose kits' numbers, is exactly `q`, in any tenant. */
export async function searchEntities(em: EntityManager, q: string): Promise<EntityMatch[]> {
  const rows = await em.fork().execute<{ tenant: string; entity_id: string; kit_no: string | null }[]>(
    `select be.tenant, be.entity_id, null as kit_no from business_entity be where be.entity_id = ?
     union
     select be.tenant, be.entity_id, k.kit_no from kit k join business_entity be on be.pkey = k.business_entity_fkey
      where k.kit_no = ?
     order by 1, 2 limit 50`,
    [q, q],
  );
  return rows.map((row) => ({ tenant: row.tenant, entityId: row.entity_id, matchedKitNo: row.kit_no }));
}

export interface EntityDetail {
  readonly records: CtpRecords;
  readonly operations: readonly CtpOperation[];
  readonly traces: ReadonlyMap<string, CtpRequestIdTracking>;
  readonly audit: readonly AuditLog[];
  readonly statusHistory: StatusHistory | null;
}

export async function entityDetail(
  em: EntityManager,
  tenant: string,
  entityId: string,
): Promise<EntityDetail | null> {
  const db = em.fork();
  const records = await loadCtpRecords(db, tenant, entityId);
  if (records === null) return null;
  const [operations, traces, audit, statusHistory] = await Promise.all([
    db.find(CtpOperation, { tenant, entityId }, { orderBy: { createdAt: 'desc' }, limit: 100 }),
    db.find(CtpRequestIdTracking, { tenant, entityId }, { orderBy: { createdAt: 'desc' }, limit: 100 }),
    db.find(AuditLog, { tenant, entityId }, { orderBy: { at: 'desc' }, limit: 100 }),
    readStatusHistory(em, tenant, entityId),
  ]);
  return {
    records,
    operations,
    traces: new Map(traces.map((trace) => [trace.operation.id, trace])),
    audit,
    statusHistory,
  };
}

export async function recentAudit(em: EntityManager, limit = 200): Promise<AuditLog[]> {
  return em.fork().find(AuditLog, {}, { orderBy: { at: 'desc', pkey: 'desc' }, limit });
}

export async function auditEntry(em: EntityManager, pkey: string): Promise<AuditLog | null> {
  if (!/^\d{1,18}$/.test(pkey)) return null;
  return em.fork().findOne(AuditLog, { pkey });
}

export interface StatusHistory {
  readonly columns: readonly string[];
  readonly rows: readonly Record<string, unknown>[];
}

const HISTORY_TABLE = 'ctp_status_history';
const HISTORY_ORDER = ['changed_at', 'created_at', 'occurred_at', 'at', 'pkey', 'id'];

/**
 * The entity's status changes from `ctp_status_history`, when that table exists. It is another
 * change's table, so it is read by its catalogue (whatever columns it has, rows of this entity
 * by `entity_id`, newest first) rather than through an entity; null while it does not exist, and
 * the page then shows the operations' before → while-running statuses instead.
 */
export async function readStatusHistory(
  em: EntityManager,
  tenant: string,
  entityId: string,
): Promise<StatusHistory | null> {
  const db = em.fork();
  const columns = (
    await db.execute<{ column_name: string }[]>(
      `select column_name from information_schema.columns
        where table_schema = current_schema() and table_name = ? order by ordinal_position`,
      [HISTORY_TABLE],
    )
  ).map((row) => row.column_name);
  if (!columns.includes('entity_id')) return null;
  const order = HISTORY_ORDER.find((name) => columns.includes(name));
  const rows = await db.execute<Record<string, unknown>[]>(
    `select * from "${HISTORY_TABLE}" where entity_id = ?${columns.includes('tenant') ? ' and tenant = ?' : ''}
      ${order === undefined ? '' : `order by "${order}" desc`} limit 200`,
    columns.includes('tenant') ? [entityId, tenant] : [entityId],
  );
  return { columns, rows };
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import type { StreamPayload } from '../contracts/notifications.ts';
import { JOB_TOPICS, type JobKind, jobIdFor } from '../queues/definitions.ts';
import { activeTraceparent } from '../tracing/context.ts';
import { defineStatement, OUTBOX_CHANNEL, queryBound } from './sql-session.ts';

export type OutboxJobKind = Extract<JobKind, keyof typeof JOB_TOPICS>;

export interface OutboxJobInput {
  readonly tenant: string;
  readonly key: string;
  readonly operationId?: string;
  readonly data: Record<string, string>;
}

export interface NotificationInput {
  readonly tenant: string;
  readonly notificationId: string;
  readonly operationId?: string;
  readonly payload: StreamPayload;
  /** The trace whose outcome this announces (metrics; not stored). */
  readonly resolution?: TraceResolution;
}

/** A resolved trace, as the process that publishes its outcome observes it (`ResolvedTrace`). */
export interface TraceResolution {
  readonly event: string;
  readonly status: 'SUCCESS' | 'FAILED';
  readonly createdAt: Date;
}

/**
 * Every write of `ctp_outbox` is in this module: the rows a step writes (`INSERT_OUTBOX_CTE`,
 * `WEBHOOK_JOB_CTE`, `insertOutboxRows`), the relay's claim, mark and release, the mark and
 * release of a writer publishing its own rows (`OutboxPublisher`), and retention.
 */

/** The columns of an outbox row. */
export interface OutboxRow {
  readonly tenant: string;
  readonly kind: 'job' | 'notification';
  readonly topic: string;
  readonly operationId: string | null;
  readonly dedupeKey: string;
  readonly payload: Record<string, string>;
  /** Of an outcome notification: the trace it announces (metrics; not stored). */
  readonly resolution?: TraceResolution;
}

/**
 * The outbox row of a job to enqueue once the writing transaction commits. The dedupe key is the
 * job id, so a step that runs twice cannot ask for the job twice.
 */
export function outboxJobRow(kind: OutboxJobKind, input: OutboxJobInput): OutboxRow {
  return {
    tenant: input.tenant,
    kind: 'job',
    topic: JOB_TOPICS[kind],
    operationId: input.operationId ?? null,
    dedupeKey: `${kind}:${jobIdFor(kind, input.key)}`,
    payload: { ...input.data, jobId: jobIdFor(kind, input.key), ...traceparentField() },
  };
}

/**
 * The span that writes a row (when tracing is on) is the parent of its publication: the relay
 * takes `traceparent` out of the payload and carries it on (job telemetry, stream entry).
 */
function traceparentField(): { traceparent?: string } {
  const traceparent = activeTraceparent();
  return traceparent === undefined ? {} : { traceparent };
}

/**
 * The outbox row of a notification for the stream. `notificationId` is stable for the outcome it
 * announces (the operation id, or the webhook id of a network change), so the same outcome can
 * never be announced under two ids.
 */
export function outboxNotificationRow(input: NotificationInput): OutboxRow {
  return {
    tenant: input.tenant,
    kind: 'notification',
    topic: 'notification',
    operationId: input.operationId ?? null,
    dedupeKey: `notification:${input.notificationId}`,
    payload: {
      notificationId: input.notificationId,
      payload: JSON.stringify(input.payload),
      ...traceparentField(),
    },
    ...(input.resolution === undefined ? {} : { resolution: input.resolution }),
  };
}

const OUTBOX_COLUMNS =
  'tenant, kind, topic, operation_id, dedupe_key, payload, attempts, available_at, created_at';
const OUTBOX_RECORDSET = `jsonb_to_recordset($outbox::jsonb) as r(tenant text, kind text, topic text,
         "operationId" uuid, "dedupeKey" text, payload jsonb, "leaseMs" int)`;

/**
 * A step's rows of `$outbox` (`OutboxRow`s as JSON); see `operation-writes.ts`. A row with a
 * `leaseMs` is leased to its writer, which publishes it after the commit (`OutboxPublisher`):
 * the relay leaves it alone until the lease ends.
 */
export const INSERT_OUTBOX_CTE = `outbox as (
  insert into ctp_outbox (${OUTBOX_COLUMNS}, claimed_until)
  select r.tenant, r.kind, r.topic, r."operationId", r."dedupeKey", r.payload, 0, now(), now(),
         now() + r."leaseMs" * interval '1 millisecond'
    from ${OUTBOX_RECORDSET}
   where (select applied from ok)
  returning 1)`;

/** `recordWebhook`: the job row of a delivery the inbox took in (`inbox`), from `$job`. */
export const WEBHOOK_JOB_CTE = `job as (
  insert into ctp_outbox (${OUTBOX_COLUMNS})
  select r.tenant, r.kind, r.topic, r."operationId", r."dedupeKey", r.payload, 0, now(), now()
    from jsonb_to_recordset($job::jsonb) as r(tenant text, kind text, topic text, "operationId" uuid,
         "dedupeKey" text, payload jsonb)
   where exists (select 1 from inbox))`;

/**
 * The JSON of outbox rows, for `$outbox` / `$job`: the stored columns, and with `leaseMs` the
 * writer's lease (see `INSERT_OUTBOX_CTE`).
 */
export const outboxJson = (rows: readonly OutboxRow[], leaseMs: number | null = null): string =>
  JSON.stringify(
    rows.map(({ tenant, kind, topic, operationId, dedupeKey, payload }) => ({
      tenant,
      kind,
      topic,
      operationId,
      dedupeKey,
      payload,
      leaseMs,
    })),
  );

/**
 * Rows written in the caller's transaction (an ORM one: the records changes' hooks), which also
 * wakes the relay at commit (a NOTIFY is delivered only if the transaction commits). This is the
 * one NOTIFY left inside a transaction (see `WAKE_RELAY` for its cost): the ORM's transaction
 * offers no round trip after its commit, and these are records changes, not each operation's
 * steps; they queue only behind each other.
 */
export async function insertOutboxRows(em: EntityManager, rows: readonly OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`insert into ctp_outbox (tenant, kind, topic, operation_id, dedupe_key, payload, attempts, available_at, created_at)
    select r.tenant, r.kind, r.topic, r."operationId", r."dedupeKey", r.payload, 0, now(), now()
      from jsonb_to_recordset(${outboxJson(rows)}::jsonb) as r(tenant text, kind text, topic text,
           "operationId" uuid, "dedupeKey" text, payload jsonb)`.execute(em.getKysely());
  await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(em.getKysely());
}

/** An outbox row the relay claimed, with the trace its notification announces. */
export interface ClaimedOutboxRow {
  id: string;
  kind: 'job' | 'notification';
  topic: string;
  payload: Record<string, string>;
  /** The resolved trace an outcome notification announces (null for other rows). */
  trace_event: string | null;
  trace_status: string | null;
  trace_created_at: Date | null;
  trace_resolved_at: Date | null;
  /** With tracing on (`claimOutboxRowsTraced`): the row's operation's stored `traceparent` and event. */
  operation_traceparent?: string | null;
  operation_event?: string | null;
  tenant?: string;
  operation_id?: string | null;
}

/**
 * The relay's claim: a lease (`claimed_until`) on the next due rows, skipping rows another relay
 * holds (`FOR UPDATE SKIP LOCKED`, and unexpired leases).
 */
/**
 * Sent first in the claim's transaction, for the mark and the claim that follow it:
 * - No bitmap scan. A published row's entry stays in `idx_ctp_outbox_unpublished`, dead, until a
 *   VACUUM. The planner likes a bitmap scan for the claim, which reads every such entry and its
 *   table page on every claim and never marks them: the claim grew with the rows published since
 *   the last VACUUM (37 ms at 20,000 entries, on every wake-up, where autovacuum is slow or off).
 *   An index scan in id order marks the dead entries it meets, so later claims skip them
 *   (`apps/worker/test/relay-claim-scan.test.ts`).
 * - Generic plans. With the ids as constants PostgreSQL planned the mark (`= any($ids)`) anew on
 *   most calls (801 plans in 2,108 calls in a 3,000-operation run); its generic plan is the same
 *   index scan.
 */
export const claimPlanSettings = defineStatement<Record<string, never>>(
  'ctp_outbox_claim_settings',
  `select set_config('enable_bitmapscan', 'off', true),
          set_config('plan_cache_mode', 'force_generic_plan', true)`,
);

/** The lease of both claims; each adds the columns it returns to `leased`. */
const CLAIM_CTES = `with claimed as (
     select id from ctp_outbox
      where published_at is null and available_at <= now()
        and (claimed_until is null or claimed_until <= now())
      order by id limit $limit::int for update skip locked),
   leased as (
     update ctp_outbox o set claimed_until = now() + $lease_ms::int * interval '1 millisecond'
       from claimed where o.id = claimed.id
     returning o.id, o.kind, o.topic, o.payload, o.operation_id`;

export const claimOutboxRows = defineStatement<{ limit: number; lease_ms: number }, ClaimedOutboxRow>(
  'ctp_outbox_claim',
  `${CLAIM_CTES})
   select l.id, l.kind, l.topic, l.payload, t.event as trace_event, t.status_ctp as trace_status,
          t.created_at as trace_created_at, t.resolved_at as trace_resolved_at
     from leased l
     left join "ctp_requestIdTracking" t on l.kind = 'notification' and t.operation_id = l.operation_id
    order by l.id`,
);

/**
 * The claim when tracing is on: also each row's tenant and operation, with the operation's stored
 * `traceparent` (a row written outside the operation's trace, by the poller or the sweeper, still
 * joins it) and event. A separate text, so that with tracing off the claim joins nothing more.
 */
export const claimOutboxRowsTraced = defineStatement<{ limit: number; lease_ms: number }, ClaimedOutboxRow>(
  'ctp_outbox_claim_traced',
  `${CLAIM_CTES}, o.tenant)
   select l.id, l.kind, l.topic, l.payload, l.tenant, l.operation_id,
          t.event as trace_event, t.status_ctp as trace_status,
          t.created_at as trace_created_at, t.resolved_at as trace_resolved_at,
          op.traceparent as operation_traceparent, op.event as operation_event
     from leased l
     left join "ctp_requestIdTracking" t on l.kind = 'notification' and t.operation_id = l.operation_id
     left join ctp_operation op on op.id = l.operation_id
    order by l.id`,
);

/** The relay published `$ids`: done, and the lease ended. */
export const markOutboxPublished = defineStatement<{ ids: string[] }>(
  'ctp_outbox_mark',
  `update ctp_outbox set published_at = now(), claimed_until = null
    where id = any($ids::bigint[]) and published_at is null`,
);

/**
 * A writer published its committed rows `$keys` (`OutboxPublisher`): done, and the lease ended.
 * Found by the dedupe key's unique index (the writer knows the keys, not the ids). "Not yet
 * published" is tested as `(published_at is null) = (select true)`: a plain `published_at is
 * null` implies the predicate of `idx_ctp_outbox_unpublished`, and the generic plan read that
 * whole index and filtered every unpublished row by key (104 rows for a mark of 16 in the bench;
 * `docs/architecture.md`, "A status test beside a key lookup").
 */
export const markOutboxPublishedByKey = defineStatement<{ keys: string[] }>(
  'ctp_outbox_mark_keys',
  `update ctp_outbox set published_at = now(), claimed_until = null
    where dedupe_key = any($keys::text[]) and (published_at is null) = (select true)`,
);

/** A writer gives the lease on its rows `$keys` back (its publish failed): the relay takes them. */
export const releaseOutboxRowsByKey = defineStatement<{ keys: string[] }>(
  'ctp_outbox_release_keys',
  `update ctp_outbox set claimed_until = null
    where dedupe_key = any($keys::text[]) and (published_at is null) = (select true)`,
);

/** The relay gives the lease on `$ids` back (its publish failed). */
export const releaseOutboxRows = defineStatement<{ ids: string[] }>(
  'ctp_outbox_release',
  `update ctp_outbox set claimed_until = null where id = any($ids::bigint[]) and published_at is null`,
);

/**
 * Retention: published rows older than `retentionMs` (since published), at most `limit`, oldest
 * publication first: `idx_ctp_outbox_published` serves the scan and the cutoff ends it (in id
 * order the scan walked the whole primary key), and the rows go by primary key (`= any(array(…))`:
 * an `in (…)` was hashed over a scan of the table). Unpublished rows are never deleted.
 */
export const PRUNE_PUBLISHED_OUTBOX_SQL = `with deleted as (
      delete from ctp_outbox where id = any(array(
        select id from ctp_outbox
         where published_at is not null and published_at < now() - ?::bigint * interval '1 millisecond'
         order by published_at limit ?::int))
      returning 1)
    select count(*)::int as n from deleted`;

export async function prunePublishedOutboxRows(
  em: EntityManager,
  retentionMs: number,
  limit: number,
): Promise<number> {
  const rows = await queryBound<{ n: number }>(em.fork(), PRUNE_PUBLISHED_OUTBOX_SQL, [retentionMs, limit]);
  return Number(rows[0]?.n ?? 0);
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type {
  DriftAction,
  ReconciliationOutcome,
  ReconciliationStatus,
  ReconciliationTrigger,
} from '../entities/ctp-reconciliation.ts';
import { defineStatement, SqlSession, type Statement } from '../operations/sql-session.ts';

/**
 * Every write of `ctp_reconciliation`, `ctp_reconciliation_item` and `ctp_reconciliation_drift`
 * is in this module, and the reads of them. "On CTP" is a customer the network holds or is
 * being changed on it: `ACTIVE`, `DISABLED` or `*_IN_PROGRESS` (those are skipped when checked).
 */

const ON_CTP = `('ACTIVE', 'DISABLED', 'REGISTRATION_IN_PROGRESS', 'REMOVAL_IN_PROGRESS')`;

/** A claimed item is someone else's for this long; a worker that died leaves it to the next tick after. */
export const CLAIM_LEASE_MS = 60_000;

const createRunStatement = defineStatement<
  {
    id: string;
    tenant: string;
    dry_run: boolean;
    entity_ids: string | null;
    idempotency_key: string | null;
    request_hash: string;
  },
  { id: string | null; total: string }
>(
  'ctp_reconciliation_create',
  `with run as (
     insert into ctp_reconciliation (id, tenant, trigger, dry_run, status, requested_entity_ids, idempotency_key,
            request_hash, created_at, updated_at)
     values ($id::uuid, $tenant::text, 'REQUEST', $dry_run::boolean, 'RUNNING', $entity_ids::jsonb,
            $idempotency_key::text, $request_hash::text, now(), now())
     on conflict on constraint uq_ctp_reconciliation_idempotency do nothing
     returning id),
   chosen as (
     select e.entity_id from business_entity e
       left join ctp_customer c on c.business_entity_fkey = e.pkey
      where e.tenant = $tenant::text
        and case when $entity_ids::jsonb is null then c.ctp_entity_status in ${ON_CTP}
                 else e.entity_id in (select jsonb_array_elements_text($entity_ids::jsonb)) end),
   items as (
     insert into ctp_reconciliation_item (reconciliation_id, entity_id, tenant, position, status, repaired)
     select run.id, chosen.entity_id, $tenant::text, row_number() over (order by chosen.entity_id), 'PENDING', false
       from run, chosen
     returning 1)
   select (select id from run)::text as id, (select count(*) from items)::text as total`,
);

const findByKeyStatement = defineStatement<
  { tenant: string; idempotency_key: string },
  { id: string; request_hash: string | null }
>(
  'ctp_reconciliation_by_key',
  `select id::text as id, request_hash from ctp_reconciliation
    where tenant = $tenant::text and idempotency_key = $idempotency_key::text`,
);

const knownEntitiesStatement = defineStatement<{ tenant: string; entity_ids: string }, { entity_id: string }>(
  'ctp_reconciliation_known_entities',
  `select entity_id from business_entity
    where tenant = $tenant::text and entity_id in (select jsonb_array_elements_text($entity_ids::jsonb))`,
);

export async function knownEntityIds(em: EntityManager, tenant: string, entityIds: readonly string[]) {
  const rows = await SqlSession.runAlone(
    em,
    knownEntitiesStatement({ tenant, entity_ids: JSON.stringify(entityIds) }),
  );
  return new Set(rows.map((row) => row.entity_id));
}

/** A reconciliation on request and its items, in one statement; `id` null: the key is taken. */
export async function insertRequestedRun(
  em: EntityManager,
  run: {
    id: string;
    tenant: string;
    dryRun: boolean;
    entityIds: readonly string[] | null;
    idempotencyKey: string | null;
    requestHash: string;
  },
): Promise<string | null> {
  const [row] = await SqlSession.runAlone(
    em,
    createRunStatement({
      id: run.id,
      tenant: run.tenant,
      dry_run: run.dryRun,
      entity_ids: run.entityIds === null ? null : JSON.stringify(run.entityIds),
      idempotency_key: run.idempotencyKey,
      request_hash: run.requestHash,
    }),
  );
  return row?.id ?? null;
}

export async function findRunByIdempotencyKey(em: EntityManager, tenant: string, idempotencyKey: string) {
  const [row] = await SqlSession.runAlone(
    em,
    findByKeyStatement({ tenant, idempotency_key: idempotencyKey }),
  );
  return row ?? null;
}

/**
 * A scheduled reconciliation for every tenant with entities on CTP that has none running: its
 * items are those entities, in entity id order. The unique key on `(tenant, running_schedule)`
 * makes two workers ticking at once start one. The tenants are found by skipping through
 * `uq_ctp_customer_tenant_entity_id` one tenant at a time (a loose index scan): the tick runs
 * every second, and `select distinct tenant` read every customer each time (14 ms at 15,000
 * customers, growing with the table). Only a tenant with no run going is looked into further
 * (`offset 0` keeps that check first).
 */
export const ensureSchedulesStatement = defineStatement<{ period_ms: number }, { started: string }>(
  'ctp_reconciliation_ensure_schedules',
  `with recursive tenants(tenant) as (
     (select tenant from ctp_customer order by tenant limit 1)
     union all
     select (select c.tenant from ctp_customer c where c.tenant > t.tenant order by c.tenant limit 1)
       from tenants t where t.tenant is not null),
   idle as (
     select t.tenant from tenants t
      where t.tenant is not null
        and not exists (select 1 from ctp_reconciliation r
                         where r.tenant = t.tenant and r.running_schedule)
     offset 0),
   due as (
     select i.tenant from idle i
      where exists (select 1 from ctp_customer c
                     where c.tenant = i.tenant and c.ctp_entity_status in ${ON_CTP})),
   runs as (
     insert into ctp_reconciliation (id, tenant, trigger, dry_run, status, period_ms, running_schedule,
            created_at, updated_at)
     select gen_random_uuid(), due.tenant, 'SCHEDULE', false, 'RUNNING', $period_ms::bigint, true, now(), now()
       from due
     on conflict on constraint uq_ctp_reconciliation_schedule do nothing
     returning id, tenant),
   items as (
     insert into ctp_reconciliation_item (reconciliation_id, entity_id, tenant, position, status, repaired)
     select runs.id, c.entity_id, c.tenant, row_number() over (partition by runs.id order by c.entity_id),
            'PENDING', false
       from runs join ctp_customer c on c.tenant = runs.tenant and c.ctp_entity_status in ${ON_CTP}
     returning 1)
   select (select count(*) from runs)::text as started, (select count(*) from items) as items`,
);

export async function ensureSchedules(em: EntityManager, periodMs: number): Promise<number> {
  const [row] = await SqlSession.runAlone(em, ensureSchedulesStatement({ period_ms: periodMs }));
  return Number(row?.started ?? 0);
}

export interface RunningRun {
  readonly id: string;
  readonly tenant: string;
  readonly trigger: ReconciliationTrigger;
  readonly dryRun: boolean;
  readonly periodMs: number | null;
  readonly elapsedMs: number;
  readonly total: number;
  /** Items checked, or claimed under a live lease. */
  readonly taken: number;
}

const runningStatement = defineStatement<
  Record<string, never>,
  {
    id: string;
    tenant: string;
    trigger: ReconciliationTrigger;
    dry_run: boolean;
    period_ms: string | null;
    elapsed_ms: string;
    total: string;
    taken: string;
  }
>(
  'ctp_reconciliation_running',
  `select r.id::text as id, r.tenant, r.trigger, r.dry_run, r.period_ms::text as period_ms,
          (extract(epoch from now() - r.created_at) * 1000)::bigint::text as elapsed_ms,
          count(i.entity_id)::text as total,
          count(i.entity_id) filter (where i.status = 'DONE'
                                      or (i.status = 'CLAIMED' and i.claimed_until >= now()))::text as taken
     from ctp_reconciliation r left join ctp_reconciliation_item i on i.reconciliation_id = r.id
    where r.status = 'RUNNING'
    group by r.id
    order by r.trigger, r.created_at`,
);

/** The running reconciliations, requested ones first (they go before the schedule in a tenant's share). */
export async function runningRuns(em: EntityManager): Promise<RunningRun[]> {
  const rows = await SqlSession.runAlone(em, runningStatement({}));
  return rows.map((row) => ({
    id: row.id,
    tenant: row.tenant,
    trigger: row.trigger,
    dryRun: row.dry_run,
    periodMs: row.period_ms === null ? null : Number(row.period_ms),
    elapsedMs: Number(row.elapsed_ms),
    total: Number(row.total),
    taken: Number(row.taken),
  }));
}

const lockRunStatement = defineStatement<{ id: string }>(
  'ctp_reconciliation_lock',
  'select 1 as one from ctp_reconciliation where id = $id::uuid for update',
);

/**
 * Claims the items of a run that are due now, in order, up to `$limit`: all that are left of a
 * requested run; of a scheduled one, the k-th of n once k/n of its paced period has passed,
 * counting the items checked or claimed under a live lease. Run after `lockRunStatement` in the
 * same transaction (a statement of its own, so its snapshot holds what the previous holder of
 * the run's lock claimed): two workers ticking at once cannot both take the same due slot.
 */
const claimStatement = defineStatement<
  { id: string; limit: number; lease_ms: number; pace: number },
  { entity_id: string }
>(
  'ctp_reconciliation_claim',
  `with run as (
     select r.trigger, r.period_ms, extract(epoch from now() - r.created_at) * 1000 as elapsed_ms
       from ctp_reconciliation r where r.id = $id::uuid and r.status = 'RUNNING'),
   counts as (
     select count(*) as total,
            count(*) filter (where status = 'DONE' or (status = 'CLAIMED' and claimed_until >= now())) as taken
       from ctp_reconciliation_item where reconciliation_id = $id::uuid),
   due as (
     select greatest(0, least($limit::int,
              case when run.trigger = 'REQUEST' or run.period_ms is null then counts.total - counts.taken
                   else floor(counts.total * least(1.0, run.elapsed_ms / (run.period_ms * $pace::float8)))
                        - counts.taken end))::int as n
       from run, counts)
   update ctp_reconciliation_item i
      set status = 'CLAIMED', claimed_until = now() + make_interval(secs => $lease_ms::bigint / 1000.0)
    where (i.reconciliation_id, i.entity_id) in (
      select reconciliation_id, entity_id from ctp_reconciliation_item
       where reconciliation_id = $id::uuid
         and (status = 'PENDING' or (status = 'CLAIMED' and claimed_until < now()))
       order by position limit (select n from due)
       for update skip locked)
    returning i.entity_id`,
);

/** Claims up to `limit` of a run's due items (see `claimStatement`), in order, that no live worker holds. */
export async function claimItems(
  em: EntityManager,
  id: string,
  limit: number,
  pace: number,
): Promise<string[]> {
  if (limit <= 0) return [];
  return SqlSession.transaction(em, async (session) => {
    const [, rows] = await session.run(
      [lockRunStatement({ id }), claimStatement({ id, limit, lease_ms: CLAIM_LEASE_MS, pace })],
      { commit: true },
    );
    return (rows as { entity_id: string }[]).map((row) => row.entity_id);
  });
}

const finishItemStatement = defineStatement<{
  id: string;
  entity_id: string;
  outcome: ReconciliationOutcome;
  repaired: boolean;
  error: string | null;
}>(
  'ctp_reconciliation_item_done',
  `update ctp_reconciliation_item
      set status = 'DONE', outcome = $outcome::text, repaired = $repaired::boolean, error = left($error::text, 512),
          claimed_until = null, checked_at = now()
    where reconciliation_id = $id::uuid and entity_id = $entity_id::text`,
);

export interface DriftRow {
  readonly entityId: string;
  readonly kitNo: string | null;
  readonly field: string;
  readonly ours: string | null;
  readonly network: string | null;
  readonly action: DriftAction;
}

const insertDriftsStatement = defineStatement<{ id: string; tenant: string; drifts: string }>(
  'ctp_reconciliation_drifts_insert',
  `insert into ctp_reconciliation_drift (reconciliation_id, tenant, entity_id, kit_number, field, ours, network,
          action, created_at)
   select $id::uuid, $tenant::text, r."entityId", r."kitNo", r.field, left(r.ours, 512), left(r.network, 512),
          r.action, now()
     from jsonb_to_recordset($drifts::jsonb) as r("entityId" text, "kitNo" text, field text, ours text,
          network text, action text)`,
);

/** The statements that record one entity's check, for the commit of the step that made it. */
export function itemCheckedStatements(
  run: { id: string; tenant: string },
  entityId: string,
  result: {
    outcome: ReconciliationOutcome;
    repaired: boolean;
    error: string | null;
    drifts: readonly DriftRow[];
  },
): Statement[] {
  return [
    finishItemStatement({
      id: run.id,
      entity_id: entityId,
      outcome: result.outcome,
      repaired: result.repaired,
      error: result.error,
    }),
    ...(result.drifts.length === 0
      ? []
      : [insertDriftsStatement({ id: run.id, tenant: run.tenant, drifts: JSON.stringify(result.drifts) })]),
  ];
}

const completeStatement = defineStatement<Record<string, never>, { id: string }>(
  'ctp_reconciliation_complete',
  `update ctp_reconciliation r
      set status = 'COMPLETED', running_schedule = null, completed_at = now(), updated_at = now()
    where r.status = 'RUNNING'
      and not exists (select 1 from ctp_reconciliation_item i
                       where i.reconciliation_id = r.id and i.status <> 'DONE')
    returning r.id::text as id`,
);

/** Ends every running reconciliation whose items are all checked. */
export async function completeFinishedRuns(em: EntityManager): Promise<string[]> {
  return (await SqlSession.runAlone(em, completeStatement({}))).map((row) => row.id);
}

const pruneStatement = defineStatement<{ retention_ms: number; runs: number }, { id: string }>(
  'ctp_reconciliation_prune',
  `with old as (
     select id from ctp_reconciliation
      where status = 'COMPLETED' and completed_at < now() - make_interval(secs => $retention_ms::bigint / 1000.0)
      order by completed_at limit $runs::int
      for update skip locked),
   drifts as (delete from ctp_reconciliation_drift where reconciliation_id in (select id from old)),
   items as (delete from ctp_reconciliation_item where reconciliation_id in (select id from old))
   delete from ctp_reconciliation where id in (select id from old) returning id::text as id`,
);

/** Deletes up to `runs` reconciliations completed more than `retentionMs` ago, with their items and drifts. */
export async function pruneReconciliations(
  em: EntityManager,
  retentionMs: number,
  runs = 10,
): Promise<number> {
  return (await SqlSession.runAlone(em, pruneStatement({ retention_ms: retentionMs, runs }))).length;
}

export interface ReconciliationView {
  readonly reconciliationId: string;
  readonly trigger: ReconciliationTrigger;
  readonly status: ReconciliationStatus;
  readonly dryRun: boolean;
  readonly counts: {
    readonly total: number;
    readonly checked: number;
    readonly agreed: number;
    readonly drifted: number;
    readonly repaired: number;
    readonly errors: number;
    readonly skipped: number;
  };
  readonly createdAt: string;
  readonly completedAt?: string;
}

interface ViewRow {
  id: string;
  trigger: ReconciliationTrigger;
  status: ReconciliationStatus;
  dry_run: boolean;
  created_at: Date;
  completed_at: Date | null;
  counts: Record<keyof ReconciliationView['counts'], string | number>;
}

const VIEW_COLUMNS = `r.id::text as id, r.trigger, r.status, r.dry_run, r.created_at, r.completed_at,
  (select json_build_object(
     'total', count(*), 'checked', count(*) filter (where i.status = 'DONE'),
     'agreed', count(*) filter (where i.outcome = 'AGREED'), 'drifted', count(*) filter (where i.outcome = 'DRIFTED'),
     'repaired', count(*) filter (where i.repaired), 'errors', count(*) filter (where i.outcome = 'ERROR'),
     'skipped', count(*) filter (where i.outcome = 'SKIPPED'))
     from ctp_reconciliation_item i where i.reconciliation_id = r.id) as counts`;

const viewStatement = defineStatement<{ tenant: string; id: string }, ViewRow>(
  'ctp_reconciliation_view',
  `select ${VIEW_COLUMNS} from ctp_reconciliation r where r.tenant = $tenant::text and r.id = $id::uuid`,
);

const listStatement = defineStatement<
  { tenant: string; before_at: string | null; before_id: string | null; limit: number },
  ViewRow
>(
  'ctp_reconciliation_list',
  `select ${VIEW_COLUMNS} from ctp_reconciliation r
    where r.tenant = $tenant::text
      and ($before_at::timestamptz is null or (r.created_at, r.id) < ($before_at::timestamptz, $before_id::uuid))
    order by r.created_at desc, r.id desc limit $limit::int`,
);

function viewOf(row: ViewRow): ReconciliationView {
  const n = (key: keyof ReconciliationView['counts']) => Number(row.counts[key]);
  return {
    reconciliationId: row.id,
    trigger: row.trigger,
    status: row.status,
    dryRun: row.dry_run,
    counts: {
      total: n('total'),
      checked: n('checked'),
      agreed: n('agreed'),
      drifted: n('drifted'),
      repaired: n('repaired'),
      errors: n('errors'),
      skipped: n('skipped'),
    },
    createdAt: new Date(row.created_at).toISOString(),
    ...(row.completed_at === null ? {} : { completedAt: new Date(row.completed_at).toISOString() }),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function readReconciliation(
  em: EntityManager,
  tenant: string,
  id: string,
): Promise<ReconciliationView | null> {
  if (!UUID.test(id)) return null;
  const [row] = await SqlSession.runAlone(em, viewStatement({ tenant, id }));
  return row === undefined ? null : viewOf(row);
}

const recentStatement = defineStatement<{ limit: number }, ViewRow & { tenant: string }>(
  'ctp_reconciliation_recent',
  `select r.tenant, ${VIEW_COLUMNS} from ctp_reconciliation r order by r.created_at desc, r.id desc limit $limit::int`,
);

const byIdStatement = defineStatement<{ id: string }, ViewRow & { tenant: string }>(
  'ctp_reconciliation_by_id',
  `select r.tenant, ${VIEW_COLUMNS} from ctp_reconciliation r where r.id = $id::uuid`,
);

/** Every tenant's latest reconciliations, for the operators' dashboard. */
export async function recentReconciliations(
  em: EntityManager,
  limit: number,
): Promise<(ReconciliationView & { tenant: string })[]> {
  const rows = await SqlSession.runAlone(em, recentStatement({ limit }));
  return rows.map((row) => ({ tenant: row.tenant, ...viewOf(row) }));
}

/** A reconciliation of any tenant, for the operators' dashboard. */
export async function reconciliationById(
  em: EntityManager,
  id: string,
): Promise<(ReconciliationView & { tenant: string }) | null> {
  if (!UUID.test(id)) return null;
  const [row] = await SqlSession.runAlone(em, byIdStatement({ id }));
  return row === undefined ? null : { tenant: row.tenant, ...viewOf(row) };
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function decode<T>(cursor: string | undefined, valid: (value: unknown) => value is T): T | null {
  if (cursor === undefined || cursor === '') return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return valid(value) ? value : null;
  } catch {
    return null;
  }
}

export class InvalidCursor extends Error {
  override readonly name = 'InvalidCursor';
}

const isListCursor = (v: unknown): v is { at: string; id: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { at?: unknown }).at === 'string' &&
  !Number.isNaN(Date.parse((v as { at: string }).at)) &&
  typeof (v as { id?: unknown }).id === 'string' &&
  UUID.test((v as { id: string }).id);

/** The tenant's reconciliations, newest first. */
export async function listReconciliations(
  em: EntityManager,
  tenant: string,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: ReconciliationView[]; nextCursor: string | null }> {
  const after = decode(page.cursor, isListCursor);
  if (page.cursor !== undefined && page.cursor !== '' && after === null)
    throw new InvalidCursor('bad cursor');
  const rows = await SqlSession.runAlone(
    em,
    listStatement({
      tenant,
      before_at: after?.at ?? null,
      before_id: after?.id ?? null,
      limit: page.limit + 1,
    }),
  );
  const items = rows.slice(0, page.limit).map(viewOf);
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return {
    items,
    nextCursor:
      last === undefined ? null : encode({ at: new Date(last.created_at).toISOString(), id: last.id }),
  };
}

export interface DriftView {
  readonly entityId: string;
  readonly kitNo?: string;
  readonly field: string;
  readonly ours: string | null;
  readonly network: string | null;
  readonly action: DriftAction;
}

const driftsStatement = defineStatement<
  { tenant: string; id: string; after: string | null; limit: number },
  {
    pkey: string;
    entity_id: string;
    kit_number: string | null;
    field: string;
    ours: string | null;
    network: string | null;
    action: DriftAction;
  }
>(
  'ctp_reconciliation_drifts',
  `select d.pkey::text as pkey, d.entity_id, d.kit_number, d.field, d.ours, d.network, d.action
     from ctp_reconciliation_drift d
    where d.reconciliation_id = $id::uuid and d.tenant = $tenant::text
      and ($after::bigint is null or d.pkey > $after::bigint)
    order by d.pkey limit $limit::int`,
);

const isDriftCursor = (v: unknown): v is { after: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { after?: unknown }).after === 'string' &&
  /^[0-9]{1,18}$/.test((v as { after: string }).after);

/** The drifts a reconciliation found, in the order found. */
export async function listDrifts(
  em: EntityManager,
  tenant: string,
  id: string,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: DriftView[]; nextCursor: string | null }> {
  const after = decode(page.cursor, isDriftCursor);
  if (page.cursor !== undefined && page.cursor !== '' && after === null)
    throw new InvalidCursor('bad cursor');
  const rows = await SqlSession.runAlone(
    em,
    driftsStatement({ tenant, id, after: after?.after ?? null, limit: page.limit + 1 }),
  );
  const items = rows.slice(0, page.limit).map((row) => ({
    entityId: row.entity_id,
    ...(row.kit_number === null ? {} : { kitNo: row.kit_number }),
    field: row.field,
    ours: row.ours,
    network: row.network,
    action: row.action,
  }));
  const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
  return { items, nextCursor: last === undefined ? null : encode({ after: last.pkey }) };
}

const kitLastFourStatement = defineStatement<
  { tenant: string; entity_id: string },
  { kit_no: string; pan_last4: string }
>(
  'ctp_reconciliation_kit_last4',
  `select k.kit_no, k.pan_last4 from kit k join business_entity e on e.pkey = k.business_entity_fkey
    where e.tenant = $tenant::text and e.entity_id = $entity_id::text`,
);

/** The last four digits of each of an entity's cards, to compare with the network's `panLastFour`. */
export function readKitLastFour(tenant: string, entityId: string): Statement {
  return kitLastFourStatement({ tenant, entity_id: entityId });
}

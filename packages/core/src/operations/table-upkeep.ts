import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { poolOf, queryBound } from './sql-session.ts';

/**
 * Autovacuum's work on the service's tables, done by the worker where the database runs without
 * autovacuum (as on this project's machines). With autovacuum on, this does nothing.
 *
 * **Statistics (ANALYZE).** Every hot statement is prepared, and PostgreSQL settles on a generic
 * plan after five runs and keeps it until the statistics of its tables change. A table that was
 * never analyzed has no statistics at all: an equality on `tenant` is then estimated at a row or
 * two, whatever the table holds, so an index that leads with `tenant` looks as good as the unique
 * one. Measured in the bench (`auto_explain`, 3,000 operations):
 * - the webhook's trace read checked "an operation in flight" through the index of
 *   `(tenant, idempotency_key)`, filtering every operation of the tenant (2,715 rows, 492 of the
 *   read's 518 buffers), where `uq_ctp_operation_in_flight` answers in 2;
 * - the lock through a trace joined `business_entity` by a scan of the tenant's entities
 *   (1,966 rows, 88 buffers), where the unique index answers in 3.
 * The trace read averaged 362 buffers (1.4 ms) a call, the largest share of PostgreSQL's time per
 * operation; with the tables analyzed, 28 buffers (0.17 ms). Shorter connection lifetimes
 * (`@ctp/db`'s pool) only renew such plans; they cannot make them right. ANALYZE reads a bounded
 * sample, takes a lock that conflicts with no reads or writes, and invalidates the cached plans
 * of the table, so the next runs plan with the statistics.
 *
 * **Dead rows (VACUUM).** Each update leaves the old version of a row, and each delete the row,
 * until a vacuum: the outbox (three versions a row, then deleted by retention) held 1,205 pages
 * for the 9,000 rows of a 4,500-operation bench, and its claim read the dead entries of its
 * partial index on every call (`claimPlanSettings`). VACUUM makes their space reusable and
 * takes the dead entries out of the indexes; it conflicts with no reads or writes either.
 *
 * Each by autovacuum's own rule and settings: a table is analyzed once more rows changed since
 * its last analyze than `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × rows`
 * (50 + 10 % by default), and vacuumed once it holds more dead rows than
 * `autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × rows` (50 + 20 %).
 */

/** Each table's ANALYZE and VACUUM, as fixed texts (utility statements take no parameters). */
const ANALYZE_TABLE = {
  api_key: 'analyze api_key',
  business_entity: 'analyze business_entity',
  ctp_audit_log: 'analyze ctp_audit_log',
  ctp_batch: 'analyze ctp_batch',
  ctp_batch_item: 'analyze ctp_batch_item',
  ctp_customer: 'analyze ctp_customer',
  ctp_kit_replacement: 'analyze ctp_kit_replacement',
  ctp_operation: 'analyze ctp_operation',
  ctp_outbox: 'analyze ctp_outbox',
  ctp_payment: 'analyze ctp_payment',
  ctp_pending_sync: 'analyze ctp_pending_sync',
  ctp_reconciliation: 'analyze ctp_reconciliation',
  ctp_reconciliation_drift: 'analyze ctp_reconciliation_drift',
  ctp_reconciliation_item: 'analyze ctp_reconciliation_item',
  ctp_requestIdTracking: 'analyze "ctp_requestIdTracking"',
  ctp_status_history: 'analyze ctp_status_history',
  ctp_tenant_settings: 'analyze ctp_tenant_settings',
  ctp_webhook_inbox: 'analyze ctp_webhook_inbox',
  kit: 'analyze kit',
} as const;

const VACUUM_TABLE = {
  api_key: 'vacuum api_key',
  business_entity: 'vacuum business_entity',
  ctp_audit_log: 'vacuum ctp_audit_log',
  ctp_batch: 'vacuum ctp_batch',
  ctp_batch_item: 'vacuum ctp_batch_item',
  ctp_customer: 'vacuum ctp_customer',
  ctp_kit_replacement: 'vacuum ctp_kit_replacement',
  ctp_operation: 'vacuum ctp_operation',
  ctp_outbox: 'vacuum ctp_outbox',
  ctp_payment: 'vacuum ctp_payment',
  ctp_pending_sync: 'vacuum ctp_pending_sync',
  ctp_reconciliation: 'vacuum ctp_reconciliation',
  ctp_reconciliation_drift: 'vacuum ctp_reconciliation_drift',
  ctp_reconciliation_item: 'vacuum ctp_reconciliation_item',
  ctp_requestIdTracking: 'vacuum "ctp_requestIdTracking"',
  ctp_status_history: 'vacuum ctp_status_history',
  ctp_tenant_settings: 'vacuum ctp_tenant_settings',
  ctp_webhook_inbox: 'vacuum ctp_webhook_inbox',
  kit: 'vacuum kit',
} as const satisfies Record<keyof typeof ANALYZE_TABLE, string>;

export type ServiceTable = keyof typeof ANALYZE_TABLE;

/** Every table of the service (a test checks this against the migrated schema). */
export const SERVICE_TABLES = Object.keys(ANALYZE_TABLE) as ServiceTable[];

/** The tables of `$tables` in the current schema past autovacuum's thresholds, when it is off. */
const STALE_TABLES_SQL = `select s.relname as name,
         s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
           + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0) as needs_analyze,
         s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8
           + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0) as needs_vacuum
    from pg_stat_user_tables s
    join pg_class c on c.oid = s.relid
   where s.schemaname = current_schema() and s.relname = any(?::text[])
     and (? or not current_setting('autovacuum')::boolean)
   order by s.relname`;

export interface UpkeepOptions {
  /** Work even though autovacuum runs (tests, whose server may run either way). */
  readonly evenWithAutovacuum?: boolean;
}

export interface UpkeepResult {
  readonly vacuumed: ServiceTable[];
  readonly analyzed: ServiceTable[];
}

/**
 * The upkeep connection's settings: autovacuum's cost-based delay for its VACUUM and ANALYZE, and
 * the statistics target below (`$1`). A manual VACUUM runs unthrottled (`vacuum_cost_delay` is 0
 * by default) and would take a core from the steps while it reads a large table; autovacuum
 * sleeps `autovacuum_vacuum_cost_delay` (2 ms) each time it has spent `vacuum_cost_limit` (200)
 * of page costs. Its settings, -1 meaning "as for VACUUM".
 */
const UPKEEP_SESSION_SQL = `select
    set_config('vacuum_cost_delay', case when current_setting('autovacuum_vacuum_cost_delay') like '-1%'
      then current_setting('vacuum_cost_delay') else current_setting('autovacuum_vacuum_cost_delay') end, false),
    set_config('vacuum_cost_limit', case when current_setting('autovacuum_vacuum_cost_limit')::int < 0
      then current_setting('vacuum_cost_limit') else current_setting('autovacuum_vacuum_cost_limit') end, false),
    set_config('default_statistics_target',
      least(current_setting('default_statistics_target')::int, $1::int)::text, false)`;

/**
 * The statistics target of the upkeep's ANALYZE (columns with a target of their own keep it):
 * PostgreSQL samples 300 × target rows. At the default 100 the sample is 30,000 rows, which at
 * 20,000–30,000 operations is the whole of `ctp_operation` (40 MB, 1.3 kB a row with its request
 * body), and the thresholds above pass every 10 s round while a table grows by a few hundred rows
 * a second: measured on the bench's kept database (31,000 operations, 186,000 history rows),
 * `ANALYZE ctp_operation` took 650–970 ms at 100, 155–175 at 30 and 38–44 at 10; `ctp_outbox`
 * 390, 92 and 22; `ctp_status_history` 243, 58 and 20. A round of them took one of the machine's
 * two cores for 1.5–3 s, and the half-rate run's slow seconds were those rounds.
 *
 * 10 (3,000 rows; PostgreSQL's default before 8.4) is enough for what the hot statements ask of
 * the statistics: equalities on unique keys, and the tenant's and the status's few values (the
 * most-common-values list). Statistics made often from a small sample are what a growing table
 * needs, and a small sample keeps each of those ANALYZEs cheap. A server set lower keeps its own.
 */
export const UPKEEP_STATISTICS_TARGET = 10;

/**
 * Vacuums and analyzes the service's tables that autovacuum would, when autovacuum is off (see
 * above); returns what it did. Each VACUUM and ANALYZE is a statement of its own, outside any
 * transaction (VACUUM cannot run in one): a crash between two leaves the rest for the next run.
 */
export async function keepTablesUp(em: EntityManager, options: UpkeepOptions = {}): Promise<UpkeepResult> {
  const stale = await queryBound<{ name: string; needs_analyze: boolean; needs_vacuum: boolean }>(
    em,
    STALE_TABLES_SQL,
    [SERVICE_TABLES, options.evenWithAutovacuum === true],
  );
  const vacuumed: ServiceTable[] = [];
  const analyzed: ServiceTable[] = [];
  const work = stale.filter((row) => row.name in ANALYZE_TABLE && (row.needs_vacuum || row.needs_analyze));
  if (work.length === 0) return { vacuumed, analyzed };
  // A connection of its own, throttled and with a small sample, and closed afterwards rather
  // than returned to the pool with those settings.
  const client = await (await poolOf(em)).connect();
  try {
    await client.query(UPKEEP_SESSION_SQL, [UPKEEP_STATISTICS_TARGET]);
    for (const { name, needs_analyze: analyze, needs_vacuum: vacuum } of work) {
      const table = name as ServiceTable;
      if (vacuum) {
        await client.query(VACUUM_TABLE[table]);
        vacuumed.push(table);
      }
      if (analyze) {
        await client.query(ANALYZE_TABLE[table]);
        analyzed.push(table);
      }
    }
  } finally {
    client.release(true);
  }
  return { vacuumed, analyzed };
}

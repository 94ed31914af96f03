import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { queryBound } from './sql-session.ts';

/**
 * The planner's statistics of the service's tables, kept where autovacuum does not keep them.
 *
 * Every hot statement is prepared, and PostgreSQL settles on a generic plan after five runs and
 * keeps it until the statistics of its tables change. A table that was never analyzed has no
 * statistics at all: an equality on `tenant` is then estimated at a row or two, whatever the
 * table holds, so an index that leads with `tenant` looks as good as the unique one. Measured in
 * the bench (`auto_explain`, 3,000 operations, autovacuum off as on this project's machines):
 * - the webhook's trace read checked "an operation in flight" through the index of
 *   `(tenant, idempotency_key)`, filtering every operation of the tenant (2,715 rows, 492 of the
 *   read's 518 buffers), where `uq_ctp_operation_in_flight` answers in 2;
 * - the lock through a trace joined `business_entity` by a bitmap scan of the tenant's entities
 *   (1,966 rows, 88 buffers), where the unique index answers in 3.
 * The trace read averaged 362 buffers (1.4 ms) per call, the largest share of PostgreSQL's time
 * per operation. Shorter connection lifetimes (`@ctp/db`'s pool) only renew such plans; they
 * cannot make them right.
 *
 * So when the database runs without autovacuum, the worker does its analyze part, by its rule:
 * a table is analyzed once more rows changed since its last analyze than
 * `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × rows` (50 + 10 % by
 * default). ANALYZE reads a bounded sample (at most 300 × the statistics target rows), takes a
 * lock that conflicts with no reads or writes, and invalidates the cached plans of the table, so
 * the next runs plan with the statistics. With autovacuum on, this does nothing. Vacuuming, the
 * other half of autovacuum's work, is not done here.
 */

/** Each table's ANALYZE, as fixed text (utility statements take no parameters). */
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

export type ServiceTable = keyof typeof ANALYZE_TABLE;

/** Every table of the service (a test checks this against the migrated schema). */
export const SERVICE_TABLES = Object.keys(ANALYZE_TABLE) as ServiceTable[];

/** The tables of `$tables` in the current schema past autovacuum's analyze threshold. */
const STALE_TABLES_SQL = `select s.relname as name
    from pg_stat_user_tables s
    join pg_class c on c.oid = s.relid
   where s.schemaname = current_schema() and s.relname = any(?::text[])
     and (? or not current_setting('autovacuum')::boolean)
     and s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
           + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0)
   order by s.relname`;

export interface AnalyzeOptions {
  /** Analyze even though autovacuum runs (tests, whose server may run either way). */
  readonly evenWithAutovacuum?: boolean;
}

/**
 * Analyzes the service's tables whose statistics are stale by autovacuum's rule, when autovacuum
 * is off (see above); returns the tables analyzed. Each ANALYZE is its own statement: a crash
 * between two leaves the rest for the next run.
 */
export async function analyzeStaleTables(
  em: EntityManager,
  options: AnalyzeOptions = {},
): Promise<ServiceTable[]> {
  const stale = await queryBound<{ name: string }>(em, STALE_TABLES_SQL, [
    SERVICE_TABLES,
    options.evenWithAutovacuum === true,
  ]);
  const analyzed: ServiceTable[] = [];
  for (const { name } of stale) {
    if (!(name in ANALYZE_TABLE)) continue;
    const table = name as ServiceTable;
    await queryBound(em, ANALYZE_TABLE[table], []);
    analyzed.push(table);
  }
  return analyzed;
}

import { Migration } from '@mikro-orm/migrations';

const BEFORE = [
  'trace.repoll',
  'trace.mark_failed',
  'operation.retry',
  'job.retry',
  'queues.pause_all',
  'queues.resume_all',
  'queue.add_job',
  'queue.retry_all',
  'queue.promote_all',
  'queue.clean',
  'queue.pause',
  'queue.resume',
  'queue.set_concurrency',
  'queue.set_rate_limit',
  'queue.release_rate_limit',
  'queue.empty',
  'queue.obliterate',
  'scheduler.remove',
  'scheduler.update',
  'scheduler.run',
  'job.remove',
  'job.promote',
  'job.update_data',
  'job.change_delay',
  'job.change_priority',
  'job.remove_children',
  'metrics.purge_history',
  'settings.update',
];

// Batches (issue 14): a cancel is audited as `batch.cancel`.
const AFTER = [...BEFORE, 'batch.cancel'];

const check = (actions: readonly string[]) =>
  `alter table "ctp_audit_log" add constraint "ctp_audit_log_action_check" check ("action" in (${actions.map((a) => `'${a}'`).join(', ')}))`;

/**
 * Batches (platform contract, "Batches: enrolling a portfolio"): one row per batch, one per item.
 * Counts are read from the items (an index-only count per status); a batch that ended keeps them
 * in `final_counts`. No card data in either table.
 */
export class Migration20261201160100_batches extends Migration {
  override name = 'Migration20261201160100_batches';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ctp_batch" ("id" uuid primary key, "tenant" varchar(64) not null, "external_batch_id" varchar(64) null, "request_hash" varchar(64) not null, "status" text not null, "final_counts" jsonb null, "lease_until" timestamptz null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "completed_at" timestamptz null, constraint "ctp_batch_status_check" check ("status" in ('RUNNING', 'COMPLETED', 'CANCELLED')));`,
    );
    this.addSql(
      `alter table "ctp_batch" add constraint "uq_ctp_batch_external_id" unique ("tenant", "external_batch_id");`,
    );
    this.addSql(`create index "idx_ctp_batch_tenant_created" on "ctp_batch" ("tenant", "created_at", "id");`);
    this.addSql(
      `create index "idx_ctp_batch_open" on "ctp_batch" ("created_at") where "completed_at" is null;`,
    );
    this.addSql(
      `create table "ctp_batch_item" ("batch_id" uuid not null, "seq" int not null, "entity_id" varchar(64) not null, "kit_number" varchar(64) not null, "status" text not null, "operation_id" uuid null, "reason" varchar(64) null, "error" jsonb null, "updated_at" timestamptz not null default now(), primary key ("batch_id", "seq"), constraint "ctp_batch_item_batch_id_foreign" foreign key ("batch_id") references "ctp_batch" ("id") on delete cascade, constraint "ctp_batch_item_status_check" check ("status" in ('PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'REJECTED', 'CANCELLED')));`,
    );
    this.addSql(
      `create index "idx_ctp_batch_item_status" on "ctp_batch_item" ("batch_id", "status", "seq");`,
    );
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(AFTER)};`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ctp_batch_item" cascade;`);
    this.addSql(`drop table if exists "ctp_batch" cascade;`);
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(BEFORE)} not valid;`);
  }
}

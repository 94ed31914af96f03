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
];

// Tenant CTP settings (issue 14): each change is audited as `settings.update`.
const AFTER = [...BEFORE, 'settings.update'];

const check = (actions: readonly string[]) =>
  `alter table "ctp_audit_log" add constraint "ctp_audit_log_action_check" check ("action" in (${actions.map((a) => `'${a}'`).join(', ')}))`;

export class Migration20261201134330_tenant_ctp_settings extends Migration {
  override name = 'Migration20261201134330_tenant_ctp_settings';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ctp_tenant_settings" ("tenant" varchar(64) not null, "mode" text not null, "allow_list" jsonb not null, "auto_enrol" boolean not null, "eligible_bins" jsonb not null, "consent_version" varchar(32) null, "default_locale" varchar(5) null, "saas_rate_per_second" double precision null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), primary key ("tenant"));`,
    );
    this.addSql(
      `alter table "ctp_tenant_settings" add constraint "ctp_tenant_settings_mode_check" check ("mode" in ('OFF', 'ALLOW_LIST', 'ALL'));`,
    );
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(AFTER)};`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ctp_tenant_settings" cascade;`);
    // The audit log is append-only: rows of the new action stay, so the old check skips them.
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(BEFORE)} not valid;`);
  }
}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261125003702_audit_log extends Migration {
  override name = 'Migration20261125003702_audit_log';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ctp_audit_log" ("pkey" bigserial primary key, "at" timestamptz not null default now(), "actor" varchar(128) not null, "action" text not null, "tenant" varchar(64) null, "entity_id" varchar(64) null, "target" varchar(255) not null, "details" jsonb not null);`,
    );
    this.addSql(`create index "idx_ctp_audit_log_at" on "ctp_audit_log" ("at");`);
    this.addSql(
      `create index "idx_ctp_audit_log_tenant_entity_id" on "ctp_audit_log" ("tenant", "entity_id");`,
    );

    this.addSql(
      `alter table "ctp_audit_log" add constraint "ctp_audit_log_action_check" check ("action" in ('trace.repoll', 'trace.mark_failed', 'operation.retry', 'job.retry'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ctp_audit_log" cascade;`);
  }
}

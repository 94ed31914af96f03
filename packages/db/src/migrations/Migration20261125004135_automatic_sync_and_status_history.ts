import { Migration } from '@mikro-orm/migrations';

export class Migration20261125004135_automatic_sync_and_status_history extends Migration {
  override name = 'Migration20261125004135_automatic_sync_and_status_history';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ctp_pending_sync" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "entity_id" varchar(64) not null, "event" text not null, "kit_number" varchar(64) not null default '', "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "ctp_pending_sync" add constraint "uq_ctp_pending_sync" unique ("tenant", "entity_id", "event", "kit_number");`,
    );

    this.addSql(
      `create table "ctp_status_history" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "entity_id" varchar(64) not null, "kit_number" varchar(64) null, "record" text not null, "from_status" varchar(32) null, "to_status" varchar(32) not null, "cause" varchar(128) not null, "operation_id" uuid null, "request_trace_id" varchar(128) null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `create index "idx_ctp_status_history_entity" on "ctp_status_history" ("tenant", "entity_id", "created_at");`,
    );

    this.addSql(
      `alter table "ctp_pending_sync" add constraint "ctp_pending_sync_event_check" check ("event" in ('CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT'));`,
    );

    this.addSql(
      `alter table "ctp_status_history" add constraint "ctp_status_history_record_check" check ("record" in ('entity', 'kit', 'trace'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ctp_pending_sync" cascade;`);
    this.addSql(`drop table if exists "ctp_status_history" cascade;`);
  }
}

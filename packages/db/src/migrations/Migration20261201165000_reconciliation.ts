import { Migration } from '@mikro-orm/migrations';

/** Reconciliation with the network (issue 15): runs, their entities, the drifts they found. */
export class Migration20261201165000_reconciliation extends Migration {
  override name = 'Migration20261201165000_reconciliation';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ctp_reconciliation" ("id" uuid not null, "tenant" varchar(64) not null, "trigger" text not null, "dry_run" boolean not null, "status" text not null, "requested_entity_ids" jsonb null, "period_ms" bigint null, "running_schedule" boolean null, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "idx_ctp_reconciliation_tenant" on "ctp_reconciliation" ("tenant", "created_at");`,
    );
    this.addSql(`create index "idx_ctp_reconciliation_status" on "ctp_reconciliation" ("status");`);
    this.addSql(
      `alter table "ctp_reconciliation" add constraint "uq_ctp_reconciliation_idempotency" unique ("tenant", "idempotency_key");`,
    );
    this.addSql(
      `alter table "ctp_reconciliation" add constraint "uq_ctp_reconciliation_schedule" unique ("tenant", "running_schedule");`,
    );
    this.addSql(
      `alter table "ctp_reconciliation" add constraint "ctp_reconciliation_trigger_check" check ("trigger" in ('REQUEST', 'SCHEDULE'));`,
    );
    this.addSql(
      `alter table "ctp_reconciliation" add constraint "ctp_reconciliation_status_check" check ("status" in ('RUNNING', 'COMPLETED'));`,
    );

    this.addSql(
      `create table "ctp_reconciliation_item" ("reconciliation_id" uuid not null, "entity_id" varchar(64) not null, "tenant" varchar(64) not null, "position" int not null, "status" text not null, "claimed_until" timestamptz null, "outcome" text null, "repaired" boolean not null default false, "error" varchar(512) null, "checked_at" timestamptz null, primary key ("reconciliation_id", "entity_id"));`,
    );
    this.addSql(
      `create index "idx_ctp_reconciliation_item_next" on "ctp_reconciliation_item" ("reconciliation_id", "status", "position");`,
    );
    this.addSql(
      `alter table "ctp_reconciliation_item" add constraint "ctp_reconciliation_item_status_check" check ("status" in ('PENDING', 'CLAIMED', 'DONE'));`,
    );
    this.addSql(
      `alter table "ctp_reconciliation_item" add constraint "ctp_reconciliation_item_outcome_check" check ("outcome" in ('AGREED', 'DRIFTED', 'SKIPPED', 'ERROR'));`,
    );

    this.addSql(
      `create table "ctp_reconciliation_drift" ("pkey" bigserial primary key, "reconciliation_id" uuid not null, "tenant" varchar(64) not null, "entity_id" varchar(64) not null, "kit_number" varchar(64) null, "field" varchar(64) not null, "ours" varchar(512) null, "network" varchar(512) null, "action" varchar(32) not null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `create index "idx_ctp_reconciliation_drift_run" on "ctp_reconciliation_drift" ("reconciliation_id", "pkey");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ctp_reconciliation_drift" cascade;`);
    this.addSql(`drop table if exists "ctp_reconciliation_item" cascade;`);
    this.addSql(`drop table if exists "ctp_reconciliation" cascade;`);
  }
}

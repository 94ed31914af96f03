import { Migration } from '@mikro-orm/migrations';

/** The durable plans of card replacements (`ctp_kit_replacement`). */
export class Migration20261201163100_kit_replacement extends Migration {
  override name = 'Migration20261201163100_kit_replacement';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ctp_kit_replacement" ("id" uuid not null, "tenant" varchar(64) not null, "entity_id" varchar(64) not null, "old_kit_number" varchar(64) not null, "new_kit_number" varchar(64) not null, "reason" text not null, "status" text not null default 'RUNNING', "step" smallint not null default 0, "attempts" smallint not null default 0, "operation_id" uuid null, "next_attempt_at" timestamptz null, "error" text null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "completed_at" timestamptz null, constraint "ctp_kit_replacement_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "idx_ctp_kit_replacement_entity" on "ctp_kit_replacement" ("tenant", "entity_id");`,
    );
    this.addSql(
      `alter table "ctp_kit_replacement" add constraint "uq_ctp_kit_replacement_new_kit" unique ("tenant", "new_kit_number");`,
    );
    this.addSql(
      `alter table "ctp_kit_replacement" add constraint "ctp_kit_replacement_reason_check" check ("reason" in ('REISSUE', 'EXPIRY', 'LOST_STOLEN', 'DAMAGED'));`,
    );
    this.addSql(
      `alter table "ctp_kit_replacement" add constraint "ctp_kit_replacement_status_check" check ("status" in ('RUNNING', 'COMPLETED', 'FAILED'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ctp_kit_replacement" cascade;`);
  }
}

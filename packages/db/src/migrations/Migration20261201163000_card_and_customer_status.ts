import { Migration } from '@mikro-orm/migrations';

/**
 * The platform's own status of a card (`ACTIVE`, `BLOCKED`, `CLOSED`) and of a customer (`ACTIVE`,
 * `CLOSED`); every existing record is `ACTIVE`. `ctp_pending_sync` takes every CTP event: a
 * closed card or customer queues its removal there, behind any operation in flight.
 */
export class Migration20261201163000_card_and_customer_status extends Migration {
  override name = 'Migration20261201163000_card_and_customer_status';

  override up(): void | Promise<void> {
    this.addSql(`alter table "kit" add column "status" text not null default 'ACTIVE';`);
    this.addSql(
      `alter table "kit" add constraint "kit_status_check" check ("status" in ('ACTIVE', 'BLOCKED', 'CLOSED'));`,
    );
    this.addSql(`alter table "business_entity" add column "status" text not null default 'ACTIVE';`);
    this.addSql(
      `alter table "business_entity" add constraint "business_entity_status_check" check ("status" in ('ACTIVE', 'CLOSED'));`,
    );
    this.addSql(`alter table "ctp_pending_sync" drop constraint "ctp_pending_sync_event_check";`);
    this.addSql(
      `alter table "ctp_pending_sync" add constraint "ctp_pending_sync_event_check" check ("event" in ('CTP_REGISTER_ENTITY_AND_KIT', 'CTP_ADD_KIT', 'CTP_REMOVE_ENTITY', 'CTP_REMOVE_KIT', 'CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `delete from "ctp_pending_sync" where "event" not in ('CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT');`,
    );
    this.addSql(`alter table "ctp_pending_sync" drop constraint "ctp_pending_sync_event_check";`);
    this.addSql(
      `alter table "ctp_pending_sync" add constraint "ctp_pending_sync_event_check" check ("event" in ('CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT'));`,
    );
    this.addSql(`alter table "business_entity" drop column "status";`);
    this.addSql(`alter table "kit" drop column "status";`);
  }
}

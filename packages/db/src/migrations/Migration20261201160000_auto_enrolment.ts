import { Migration } from '@mikro-orm/migrations';

/**
 * Auto-enrolment (platform contract, "Tenant CTP settings"): a new card's enrolment waits its
 * turn in `ctp_pending_sync` like an automatic update, so it queues behind an operation in
 * flight and rides the same outbox promotion.
 */
export class Migration20261201160000_auto_enrolment extends Migration {
  override name = 'Migration20261201160000_auto_enrolment';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_pending_sync" drop constraint "ctp_pending_sync_event_check";`);
    this.addSql(
      `alter table "ctp_pending_sync" add constraint "ctp_pending_sync_event_check" check ("event" in ('CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT', 'CTP_REGISTER_ENTITY_AND_KIT'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`delete from "ctp_pending_sync" where "event" = 'CTP_REGISTER_ENTITY_AND_KIT';`);
    this.addSql(`alter table "ctp_pending_sync" drop constraint "ctp_pending_sync_event_check";`);
    this.addSql(
      `alter table "ctp_pending_sync" add constraint "ctp_pending_sync_event_check" check ("event" in ('CTP_UPDATE_ENTITY', 'CTP_UPDATE_KIT'));`,
    );
  }
}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261201123900_retry_bounds_and_retention extends Migration {
  override name = 'Migration20261201123900_retry_bounds_and_retention';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "ctp_operation" add "redrives" int not null default 0, add "last_redriven_at" timestamptz null;`,
    );
    this.addSql(
      `create index "idx_ctp_operation_queued" on "ctp_operation" ("updated_at") where "status" = 'QUEUED';`,
    );

    this.addSql(`drop index "idx_ctp_request_id_tracking_due";`);
    this.addSql(
      `create index "idx_ctp_request_id_tracking_due" on "ctp_requestIdTracking" ("next_poll_at" nulls FIRST) where "status_ctp" = 'IN_PROGRESS';`,
    );

    this.addSql(`alter table "ctp_webhook_inbox" add "parked_at" timestamptz null;`);
    this.addSql(
      `create index "idx_ctp_webhook_inbox_unprocessed" on "ctp_webhook_inbox" ("received_at") where "processed_at" is null and "parked_at" is null;`,
    );
    this.addSql(
      `create index "idx_ctp_webhook_inbox_parked" on "ctp_webhook_inbox" ("parked_at") where "parked_at" is not null;`,
    );
    this.addSql(
      `create index "idx_ctp_webhook_inbox_processed" on "ctp_webhook_inbox" ("processed_at") where "processed_at" is not null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "idx_ctp_operation_queued";`);
    this.addSql(`alter table "ctp_operation" drop column "redrives", drop column "last_redriven_at";`);

    this.addSql(`drop index "idx_ctp_request_id_tracking_due";`);
    this.addSql(
      `create index "idx_ctp_request_id_tracking_due" on "ctp_requestIdTracking" ("next_poll_at") where status_ctp = 'IN_PROGRESS'::text;`,
    );

    this.addSql(`drop index "idx_ctp_webhook_inbox_unprocessed";`);
    this.addSql(`drop index "idx_ctp_webhook_inbox_parked";`);
    this.addSql(`drop index "idx_ctp_webhook_inbox_processed";`);
    this.addSql(`alter table "ctp_webhook_inbox" drop column "parked_at";`);
  }
}

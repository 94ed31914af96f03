import { Migration } from '@mikro-orm/migrations';

/** One trace per operation: the `traceparent` of the request that started it (issue 17). */
export class Migration20261201170000_operation_traceparent extends Migration {
  override name = 'Migration20261201170000_operation_traceparent';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_operation" add column "traceparent" varchar(55) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ctp_operation" drop column "traceparent";`);
  }
}

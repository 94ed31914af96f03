import { Migration } from '@mikro-orm/migrations';

export class Migration20261125012632_freeze_request_body extends Migration {
  override name = 'Migration20261125012632_freeze_request_body';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_operation" add "request_body" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ctp_operation" drop column "request_body";`);
  }
}

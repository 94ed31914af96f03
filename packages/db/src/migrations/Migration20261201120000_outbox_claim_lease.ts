import { Migration } from '@mikro-orm/migrations';

export class Migration20261201120000_outbox_claim_lease extends Migration {
  override name = 'Migration20261201120000_outbox_claim_lease';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_outbox" add "claimed_until" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ctp_outbox" drop column "claimed_until";`);
  }
}

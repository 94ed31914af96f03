import { Migration } from '@mikro-orm/migrations';

/**
 * Retention deletes published outbox rows oldest publication first. In id order it walked the
 * whole primary key once a minute (188 ms at 90,000 rows); this index ends the scan at the cutoff.
 */
export class Migration20261201143000_outbox_published_index extends Migration {
  override name = 'Migration20261201143000_outbox_published_index';

  override up(): void | Promise<void> {
    this.addSql(
      `create index "idx_ctp_outbox_published" on "ctp_outbox" ("published_at") where "published_at" is not null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "idx_ctp_outbox_published";`);
  }
}

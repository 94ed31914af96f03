import { Migration } from '@mikro-orm/migrations';

export class Migration20261125001423_api_keys extends Migration {
  override name = 'Migration20261125001423_api_keys';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "api_key" ("pkey" bigserial primary key, "tenant" varchar(64) not null, "key_hash" char(64) not null, "label" varchar(128) null, "created_at" timestamptz not null default now(), "revoked_at" timestamptz null);`,
    );
    this.addSql(`alter table "api_key" add constraint "uq_api_key_key_hash" unique ("key_hash");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "api_key" cascade;`);
  }
}

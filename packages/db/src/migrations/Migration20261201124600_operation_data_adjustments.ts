import { Migration } from '@mikro-orm/migrations';

export class Migration20261201124600_operation_data_adjustments extends Migration {
  override name = 'Migration20261201124600_operation_data_adjustments';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_operation" add "data_adjustments" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ctp_operation" drop column "data_adjustments";`);
  }
}

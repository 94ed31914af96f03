import { Migration } from '@mikro-orm/migrations';

/**
 * The lookup of an `Idempotency-Key` on the record changes and the tenant settings
 * (`packages/core/src/records/idempotency.ts`) read every audit row of the tenant of the last
 * 24 hours, under an advisory lock: a cost that grew with the audit log on every keyed request.
 * Partial: only rows that carry a key are indexed (a strict `=` on the key implies it is not null,
 * so the planner uses the index for the lookup).
 */
export class Migration20261202120000_audit_idempotency_key_index extends Migration {
  override name = 'Migration20261202120000_audit_idempotency_key_index';

  override up(): void | Promise<void> {
    this.addSql(
      `create index "idx_ctp_audit_log_idempotency_key" on "ctp_audit_log" ("tenant", (details->>'idempotencyKey'), "at") where (details->>'idempotencyKey') is not null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "idx_ctp_audit_log_idempotency_key";`);
  }
}

import { Migration } from '@mikro-orm/migrations';

// The latest list: Migration20261201160100_batches.
const BEFORE = [
  'trace.repoll',
  'trace.mark_failed',
  'operation.retry',
  'job.retry',
  'queues.pause_all',
  'queues.resume_all',
  'queue.add_job',
  'queue.retry_all',
  'queue.promote_all',
  'queue.clean',
  'queue.pause',
  'queue.resume',
  'queue.set_concurrency',
  'queue.set_rate_limit',
  'queue.release_rate_limit',
  'queue.empty',
  'queue.obliterate',
  'scheduler.remove',
  'scheduler.update',
  'scheduler.run',
  'job.remove',
  'job.promote',
  'job.update_data',
  'job.change_delay',
  'job.change_priority',
  'job.remove_children',
  'metrics.purge_history',
  'settings.update',
  'batch.cancel',
];

// Record changes made with an `Idempotency-Key` keep the key and their first answer on an audit
// row (packages/core/src/records/idempotency.ts).
const AFTER = [...BEFORE, 'kit.patch', 'kit.status', 'kit.replace', 'entity.status'];

const check = (actions: readonly string[]) =>
  `alter table "ctp_audit_log" add constraint "ctp_audit_log_action_check" check ("action" in (${actions.map((a) => `'${a}'`).join(', ')}))`;

export class Migration20261201182000_record_change_audit extends Migration {
  override name = 'Migration20261201182000_record_change_audit';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(AFTER)};`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(BEFORE)} not valid;`);
  }
}

import { Migration } from '@mikro-orm/migrations';

const BEFORE = ['trace.repoll', 'trace.mark_failed', 'operation.retry', 'job.retry'];

// Bull Board's writes are audited too (issue 12): one action per write route.
const AFTER = [
  ...BEFORE,
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
];

const check = (actions: readonly string[]) =>
  `alter table "ctp_audit_log" add constraint "ctp_audit_log_action_check" check ("action" in (${actions.map((a) => `'${a}'`).join(', ')}))`;

export class Migration20261201124500_audit_queue_writes extends Migration {
  override name = 'Migration20261201124500_audit_queue_writes';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(AFTER)};`);
  }

  override down(): void | Promise<void> {
    // The audit log is append-only: rows of the new actions stay, so the old check skips them.
    this.addSql(`alter table "ctp_audit_log" drop constraint if exists "ctp_audit_log_action_check";`);
    this.addSql(`${check(BEFORE)} not valid;`);
  }
}

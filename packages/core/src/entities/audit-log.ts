import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { bigintPrimaryKey, externalIdColumn } from './columns.ts';

/**
 * What an operator did from the dashboard (`ctp_audit_log.action`): the console's actions, and
 * every write of Bull Board (`queue.*`, `job.*`, `scheduler.*`, `queues.*` for all queues at once).
 * The api's record changes made with an `Idempotency-Key` (`kit.*`, `entity.status`) are kept
 * here too, with the key and their first answer (records/idempotency.ts).
 */
export const AUDIT_ACTIONS = [
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
  'kit.patch',
  'kit.status',
  'kit.replace',
  'entity.status',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Beside the operator's reason: what came of it (`refused` keeps the attempt on record too;
 * `failed` is a queue write that was allowed but that Bull Board or Redis did not carry out).
 */
export interface AuditDetails {
  readonly reason?: string;
  readonly result: 'done' | 'refused' | 'failed';
  readonly message?: string;
  readonly [key: string]: string | number | boolean | null | undefined;
}

/**
 * Who did what to which record from the dashboard, and when. Append-only: nothing updates or
 * deletes a row. `tenant` and `entityId` are copied from the target so an entity's page finds
 * every action taken on it without parsing `target`.
 */
export const AuditLog = defineEntity({
  name: 'AuditLog',
  tableName: 'ctp_audit_log',
  properties: {
    pkey: bigintPrimaryKey,
    at: p
      .datetime()
      .defaultRaw('now()')
      .onCreate(() => new Date()),
    actor: p.string().length(128),
    action: p.enum(AUDIT_ACTIONS),
    tenant: p.string().length(64).nullable(),
    entityId: externalIdColumn.nullable(),
    /**
     * `operation:<uuid>`, `trace:<request trace id>`, `job:<queue>/<job id>`, `queue:<queue>`,
     * `scheduler:<queue>/<scheduler id>` or `queues:*`.
     */
    target: p.string().length(255),
    details: p.json<AuditDetails>(),
  },
  indexes: [
    { name: 'idx_ctp_audit_log_at', properties: ['at'] },
    { name: 'idx_ctp_audit_log_tenant_entity_id', properties: ['tenant', 'entityId'] },
    /** The `Idempotency-Key` lookup of record changes and settings (records/idempotency.ts). */
    {
      name: 'idx_ctp_audit_log_idempotency_key',
      expression: `create index "idx_ctp_audit_log_idempotency_key" on "ctp_audit_log" ("tenant", (details->>'idempotencyKey'), "at") where (details->>'idempotencyKey') is not null`,
    },
  ],
});

export type AuditLog = InferEntity<typeof AuditLog>;

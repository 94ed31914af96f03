import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { bigintPrimaryKey, externalIdColumn } from './columns.ts';

/** What an operator did from the dashboard (`ctp_audit_log.action`). */
export const AUDIT_ACTIONS = ['trace.repoll', 'trace.mark_failed', 'operation.retry', 'job.retry'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Beside the operator's reason: what came of it (`refused` keeps the attempt on record too). */
export interface AuditDetails {
  readonly reason?: string;
  readonly result: 'done' | 'refused';
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
    /** `operation:<uuid>`, `trace:<request trace id>` or `job:<queue>/<job id>`. */
    target: p.string().length(255),
    details: p.json<AuditDetails>(),
  },
  indexes: [
    { name: 'idx_ctp_audit_log_at', properties: ['at'] },
    { name: 'idx_ctp_audit_log_tenant_entity_id', properties: ['tenant', 'entityId'] },
  ],
});

export type AuditLog = InferEntity<typeof AuditLog>;

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { NotificationPayload } from '../contracts/notifications.ts';
import { JOB_TOPICS, type JobKind, jobIdFor } from '../queues/definitions.ts';

/** The PostgreSQL channel writers notify in their transaction; the relay LISTENs on it. */
export const OUTBOX_CHANNEL = 'ctp_outbox';

export type OutboxJobKind = Extract<JobKind, keyof typeof JOB_TOPICS>;

export interface OutboxJobInput {
  readonly tenant: string;
  readonly key: string;
  readonly operationId?: string;
  readonly data: Record<string, string>;
}

export interface NotificationInput {
  readonly tenant: string;
  readonly notificationId: string;
  readonly operationId?: string;
  readonly payload: NotificationPayload;
}

/** The columns of an outbox row; written by the unit of work or by plain SQL (`StepWrites`). */
export interface OutboxRow {
  readonly tenant: string;
  readonly kind: 'job' | 'notification';
  readonly topic: string;
  readonly operationId: string | null;
  readonly dedupeKey: string;
  readonly payload: Record<string, string>;
}

/**
 * The outbox row of a job to enqueue once the writing transaction commits. The dedupe key is the
 * job id, so a step that runs twice cannot ask for the job twice.
 */
export function outboxJobRow(kind: OutboxJobKind, input: OutboxJobInput): OutboxRow {
  return {
    tenant: input.tenant,
    kind: 'job',
    topic: JOB_TOPICS[kind],
    operationId: input.operationId ?? null,
    dedupeKey: `${kind}:${jobIdFor(kind, input.key)}`,
    payload: { ...input.data, jobId: jobIdFor(kind, input.key) },
  };
}

/**
 * The outbox row of a notification for the stream. `notificationId` is stable for the outcome it
 * announces (the operation id, or the webhook id of a network change), so the same outcome can
 * never be announced under two ids.
 */
export function outboxNotificationRow(input: NotificationInput): OutboxRow {
  return {
    tenant: input.tenant,
    kind: 'notification',
    topic: 'notification',
    operationId: input.operationId ?? null,
    dedupeKey: `notification:${input.notificationId}`,
    payload: { notificationId: input.notificationId, payload: JSON.stringify(input.payload) },
  };
}

/** Wakes the relay at commit (a NOTIFY is delivered only if the transaction commits). */
export async function wakeRelay(em: EntityManager): Promise<void> {
  await em.execute(`select pg_notify('${OUTBOX_CHANNEL}', '')`, [], 'run');
}

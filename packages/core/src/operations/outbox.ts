import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { NotificationPayload } from '../contracts/notifications.ts';
import { CtpOutbox } from '../entities/ctp-outbox.ts';
import { JOB_TOPICS, type JobKind, jobIdFor } from '../queues/definitions.ts';

/** The PostgreSQL channel writers notify in their transaction; the relay LISTENs on it. */
export const OUTBOX_CHANNEL = 'ctp_outbox';

/**
 * Records, in the caller's transaction, a job to enqueue once the transaction commits. The
 * dedupe key is the job id, so a step that runs twice cannot ask for the job twice.
 */
export function addJobToOutbox(
  em: EntityManager,
  kind: Extract<JobKind, keyof typeof JOB_TOPICS>,
  input: { tenant: string; key: string; operationId?: string; data: Record<string, string> },
): void {
  em.create(CtpOutbox, {
    tenant: input.tenant,
    kind: 'job',
    topic: JOB_TOPICS[kind],
    operationId: input.operationId ?? null,
    dedupeKey: `${kind}:${jobIdFor(kind, input.key)}`,
    payload: { ...input.data, jobId: jobIdFor(kind, input.key) },
  });
}

/**
 * Records, in the caller's transaction, a notification for the stream. `notificationId` is
 * stable for the outcome it announces (the operation id, or the webhook id of a network
 * change), so the same outcome can never be announced under two ids.
 */
export function addNotificationToOutbox(
  em: EntityManager,
  input: { tenant: string; notificationId: string; operationId?: string; payload: NotificationPayload },
): void {
  em.create(CtpOutbox, {
    tenant: input.tenant,
    kind: 'notification',
    topic: 'notification',
    operationId: input.operationId ?? null,
    dedupeKey: `notification:${input.notificationId}`,
    payload: { notificationId: input.notificationId, payload: JSON.stringify(input.payload) },
  });
}

/** Wakes the relay at commit (a NOTIFY is delivered only if the transaction commits). */
export async function wakeRelay(em: EntityManager): Promise<void> {
  await em.execute(`select pg_notify('${OUTBOX_CHANNEL}', '')`, [], 'run');
}

import { randomUUID } from 'node:crypto';
import { maskPansIn } from '@ctp/core/cards';
import { CtpOperation, CtpRequestIdTracking } from '@ctp/core/entities';
import {
  type AdminActionResult,
  markTraceFailed,
  recordAudit,
  repollTraceNow,
  retryFailedOperation,
} from '@ctp/core/operations';
import { JOBS, jobIdFor } from '@ctp/core/queues';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { type Queues, retryFailedSubmitJob, submitJobState } from '../queues.ts';
import type { ConfirmModel } from '../views/confirm.ts';
import { age } from '../views/format.ts';

/** The console's actions, as the confirmation form names them. */
export const ACTIONS = ['repoll', 'mark-failed', 'retry'] as const;
export type Action = (typeof ACTIONS)[number];

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findTrace(em: EntityManager, requestTraceId: string) {
  return em.fork().findOne(CtpRequestIdTracking, { requestTraceId });
}

async function findOperation(em: EntityManager, id: string) {
  return UUID.test(id) ? em.fork().findOne(CtpOperation, { id }) : null;
}

/** What the confirmation page says about an action on its target, or null when there is no such target. */
export async function confirmation(
  em: EntityManager,
  queues: Queues,
  action: Action,
  target: string,
  back: string,
): Promise<ConfirmModel | null> {
  const base = { action, target, back, nonce: randomUUID() };
  if (action === 'repoll' || action === 'mark-failed') {
    const trace = await findTrace(em, target);
    if (trace === null) return null;
    const facts = [
      ['Tenant', trace.tenant],
      ['Entity', trace.entityId],
      ['Kit', trace.kitNumber ?? '—'],
      ['Event', trace.event],
      ['Request trace', trace.requestTraceId],
      ['Trace status', trace.statusCtp],
      ['Age', age(trace.createdAt)],
      ['Polls so far', String(trace.pollAttempts)],
    ] as const;
    const blocked =
      trace.statusCtp === 'IN_PROGRESS' ? {} : { blocked: `The trace is ${trace.statusCtp}: it has ended.` };
    return action === 'repoll'
      ? {
          ...base,
          ...blocked,
          title: 'Re-poll the trace now',
          facts,
          effect:
            'Its next /status poll becomes due now: the poller asks the SaaS within a second, and a final answer resolves the trace as usual.',
          reasonRequired: false,
          danger: false,
        }
      : {
          ...base,
          ...blocked,
          title: 'Mark the trace failed',
          facts,
          effect:
            'The trace ends FAILED (MARKED_FAILED): the entity and kit statuses go back to what they were before the operation, the operation ends FAILED and downstream systems are notified of the failure. Use it only when the SaaS will never answer. It cannot be undone.',
          reasonRequired: true,
          danger: true,
        };
  }
  const operation = await findOperation(em, target);
  if (operation === null) return null;
  const facts = [
    ['Tenant', operation.tenant],
    ['Entity', operation.entityId],
    ['Kit', operation.kitNumber ?? '—'],
    ['Event', operation.event],
    ['Operation', operation.id],
    ['Status', operation.status],
    ['Error', operation.errorCode ? `${operation.errorCode}: ${operation.errorMessage ?? ''}` : '—'],
  ] as const;
  if (operation.status === 'FAILED') {
    return {
      ...base,
      title: 'Retry the operation',
      facts,
      effect: `Starts a NEW ${operation.event} operation for the same entity${operation.kitNumber ? ' and kit' : ''}, through the same lifecycle checks as a client request (it is refused if the statuses no longer allow it). The failed operation stays as it is.`,
      reasonRequired: false,
      danger: false,
    };
  }
  const job = operation.status === 'QUEUED' ? await submitJobState(queues, operation.id) : null;
  if (job?.state === 'failed') {
    return {
      ...base,
      title: 'Retry the submit job',
      facts: [
        ...facts,
        ['Submit job', `failed after ${job.attemptsMade} attempts: ${job.failedReason ?? ''}`],
      ],
      effect:
        'The operation is still QUEUED: the SaaS never accepted it. Its failed BullMQ job runs again with its attempts reset, with the same Idempotency-Key, so the SaaS cannot start the work twice.',
      reasonRequired: false,
      danger: false,
    };
  }
  return {
    ...base,
    title: 'Retry',
    facts,
    effect: 'A FAILED operation can be retried as a new one, and a QUEUED one whose job failed in its queue.',
    blocked: `The operation is ${operation.status}${job ? ` and its job is ${job.state}` : ''}: there is nothing to retry.`,
    reasonRequired: false,
    danger: false,
  };
}

export interface ActionRequest {
  readonly action: Action;
  readonly target: string;
  readonly actor: string;
  readonly reason?: string;
  /** From the confirmation form: a double submit of one form starts one operation. */
  readonly nonce?: string;
}

export async function perform(
  em: EntityManager,
  queues: Queues,
  request: ActionRequest,
): Promise<AdminActionResult> {
  const { actor, target } = request;
  const reason = request.reason === undefined ? {} : { reason: request.reason };
  switch (request.action) {
    case 'repoll':
      return repollTraceNow(em, { requestTraceId: target, actor, ...reason });
    case 'mark-failed':
      return markTraceFailed(em, { requestTraceId: target, actor, ...reason });
    case 'retry': {
      const operation = await findOperation(em, target);
      if (operation?.status !== 'QUEUED') {
        const nonce = request.nonce !== undefined && UUID.test(request.nonce) ? request.nonce : undefined;
        return retryFailedOperation(em, {
          operationId: target,
          actor,
          ...reason,
          ...(nonce === undefined ? {} : { idempotencyKey: `console-retry:${nonce}` }),
        });
      }
      return retryQueuedJob(em, queues, operation, request);
    }
  }
}

/**
 * The one console action that writes Redis, not PostgreSQL: it cannot share a transaction with
 * its audit row, so the row follows the retry with its outcome (as for Bull Board's writes). A
 * crash between the two leaves a retried job without its row; the retry itself is harmless to
 * repeat (same job, same Idempotency-Key toward the SaaS).
 */
async function retryQueuedJob(
  em: EntityManager,
  queues: Queues,
  operation: CtpOperation,
  request: ActionRequest,
): Promise<AdminActionResult> {
  const retried = await retryFailedSubmitJob(queues, operation.id);
  const message = retried
    ? 'the submit job runs again'
    : 'the submit job has not failed (it is waiting, running or gone); nothing to retry';
  const auditId = await recordAudit(em, {
    actor: request.actor,
    action: 'job.retry',
    target: `job:${JOBS.submit.queue}/${jobIdFor('submit', operation.id)}`,
    tenant: operation.tenant,
    entityId: operation.entityId,
    details: {
      ...(request.reason?.trim() ? { reason: maskPansIn(request.reason.trim()).slice(0, 1_000) } : {}),
      result: retried ? 'done' : 'refused',
      message,
      operationId: operation.id,
    },
  });
  return retried
    ? { ok: true, message, operationId: operation.id, auditId }
    : { ok: false, code: 'INVALID_STATE', message, auditId };
}

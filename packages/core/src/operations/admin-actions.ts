import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { maskPansIn } from '../cards/pan.ts';
import type { AuditAction, AuditDetails } from '../entities/audit-log.ts';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { CtpRequestIdTracking } from '../entities/ctp-request-id-tracking.ts';
import { DomainError } from '../errors/domain-error.ts';
import { activeTraceparent } from '../tracing/context.ts';
import { requestOperation } from './request-operation.ts';
import { resolveTraceOutcome } from './resolve-trace.ts';
import { defineStatement, executeOnOrm, queryBound, type Statement } from './sql-session.ts';
import { pollTraceNow } from './trace-writes.ts';

/**
 * What an operator may do from the dashboard, each as one use case that goes through the same
 * steps as the pipeline (no status column is written here) and leaves a row in `ctp_audit_log`
 * naming who did it, refused attempts included. An action that changes something commits its
 * audit row in its own transaction: a crash (or a failed insert) between them leaves neither.
 * Every write of `ctp_audit_log` is in this module.
 */

export interface AdminRequest {
  /** Who acts: the dashboard login. */
  readonly actor: string;
  /** Why, in the operator's words (card numbers in it are masked before it is stored). */
  readonly reason?: string;
}

export type ActionOutcome =
  | { readonly ok: true; readonly message: string; readonly operationId?: string }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** The outcome, and the audit row that records it (`ctp_audit_log.pkey`). */
export type AdminActionResult = ActionOutcome & { readonly auditId: string };

export interface AuditEntry {
  readonly actor: string;
  readonly action: AuditAction;
  readonly target: string;
  readonly tenant?: string | null;
  readonly entityId?: string | null;
  readonly details: AuditDetails;
}

/**
 * The one statement that writes `ctp_audit_log`, with its key chosen beforehand
 * (`nextAuditKey`): so it can ride in a lifecycle step's own commit, and the action and its
 * record commit together or not at all.
 */
const auditInsertStatement = defineStatement<{
  pkey: string;
  actor: string;
  action: string;
  target: string;
  tenant: string | null;
  entity_id: string | null;
  details: string;
}>(
  'ctp_audit_insert',
  `insert into ctp_audit_log (pkey, at, actor, action, target, tenant, entity_id, details)
   values ($pkey::bigint, now(), $actor::text, $action::text, $target::text, $tenant::text, $entity_id::text,
           $details::jsonb)`,
);

export function auditInsert(pkey: string, entry: AuditEntry): Statement {
  return auditInsertStatement({
    pkey,
    actor: entry.actor,
    action: entry.action,
    // Targets are typed ids; one that is a card number is kept masked, as everywhere else.
    target: maskPansIn(entry.target).slice(0, 255),
    tenant: entry.tenant ?? null,
    entity_id: entry.entityId ?? null,
    details: JSON.stringify(entry.details),
  });
}

/** A key for an audit row not written yet (a sequence value: never handed out twice). */
export async function nextAuditKey(em: EntityManager): Promise<string> {
  const [row] = await queryBound<{ pkey: string }>(
    em,
    `select nextval(pg_get_serial_sequence('ctp_audit_log', 'pkey'))::text as pkey`,
    [],
  );
  if (row === undefined) throw new Error('no audit key from the sequence');
  return row.pkey;
}

/** Appends one audit row, in the caller's transaction when `em` is inside one; returns its key. */
export async function recordAudit(em: EntityManager, entry: AuditEntry): Promise<string> {
  const pkey = await nextAuditKey(em);
  await executeOnOrm(em, auditInsert(pkey, entry));
  return pkey;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const refused = (code: string, message: string): ActionOutcome => ({ ok: false, code, message });

function noteOf(reason: string | undefined): { reason?: string } {
  const trimmed = reason?.trim();
  return trimmed ? { reason: maskPansIn(trimmed).slice(0, 1_000) } : {};
}

function auditEntryOf(
  entry: Omit<AuditEntry, 'details'>,
  request: AdminRequest,
  result: ActionOutcome,
): AuditEntry {
  return {
    ...entry,
    details: {
      ...noteOf(request.reason),
      result: result.ok ? 'done' : 'refused',
      message: result.message,
      ...(result.ok && result.operationId !== undefined ? { newOperationId: result.operationId } : {}),
    },
  };
}

/** Records an outcome in a transaction of its own (or `em`'s): for refusals, which change nothing. */
async function audited(
  em: EntityManager,
  entry: Omit<AuditEntry, 'details'>,
  request: AdminRequest,
  result: ActionOutcome,
): Promise<AdminActionResult> {
  const auditId = await recordAudit(em, auditEntryOf(entry, request, result));
  return { ...result, auditId };
}

/** Attempts on ids that do not exist are kept too: an operator probing ids is worth a record. */
function notFound(
  em: EntityManager,
  scope: Omit<AuditEntry, 'details'>,
  request: AdminRequest,
  what: string,
): Promise<AdminActionResult> {
  return audited(em, scope, request, refused('NOT_FOUND', `${what} not found`));
}

/**
 * Re-poll a trace now: its next `/status` poll is due at once, so the poller (every second)
 * asks the SaaS on its next tick. Only an `IN_PROGRESS` trace is polled at all.
 */
export async function repollTraceNow(
  em: EntityManager,
  request: AdminRequest & { readonly requestTraceId: string },
): Promise<AdminActionResult> {
  const target = { action: 'trace.repoll', target: `trace:${request.requestTraceId}` } as const;
  const trace = await em.fork().findOne(CtpRequestIdTracking, { requestTraceId: request.requestTraceId });
  if (trace === null) return notFound(em, { ...target, actor: request.actor }, request, 'request trace');
  const scope = { ...target, actor: request.actor, tenant: trace.tenant, entityId: trace.entityId };
  return em.fork().transactional(async (tx) => {
    const moved = await pollTraceNow(tx, trace.pkey);
    const result = moved
      ? { ok: true as const, message: 'the trace will be polled within a second' }
      : refused('INVALID_STATE', `the trace is ${trace.statusCtp}, not IN_PROGRESS`);
    return audited(tx, scope, request, result);
  });
}

/**
 * Mark a hopeless trace failed: the same resolve step as a FAILED answer from the SaaS, so the
 * statuses revert, the operation ends FAILED and the failure is notified. A trace that resolved
 * meanwhile is left as it is.
 */
export async function markTraceFailed(
  em: EntityManager,
  request: AdminRequest & { readonly requestTraceId: string },
): Promise<AdminActionResult> {
  const target = { action: 'trace.mark_failed', target: `trace:${request.requestTraceId}` } as const;
  const trace = await em.fork().findOne(CtpRequestIdTracking, { requestTraceId: request.requestTraceId });
  if (trace === null) return notFound(em, { ...target, actor: request.actor }, request, 'request trace');
  const scope = { ...target, actor: request.actor, tenant: trace.tenant, entityId: trace.entityId };
  const why = noteOf(request.reason).reason;
  if (why === undefined) {
    return audited(em, scope, request, refused('VALIDATION_FAILED', 'a reason is required'));
  }
  const done = {
    ok: true as const,
    message: 'the trace is FAILED; statuses reverted and the failure notified',
  };
  // The audit row commits in the resolve step's own transaction: marked failed and on record, or neither.
  const auditId = await nextAuditKey(em);
  const resolved = await resolveTraceOutcome(
    em,
    trace.tenant,
    {
      requestTraceId: trace.requestTraceId,
      status: 'FAILED',
      error: {
        code: 'MARKED_FAILED',
        message: 'Marked Failed By Operator',
        details: `marked failed by ${request.actor}: ${why}`,
      },
    },
    undefined,
    [auditInsert(auditId, auditEntryOf(scope, request, done))],
  );
  if (resolved === 'resolved') return { ...done, auditId };
  return audited(
    em,
    scope,
    request,
    refused('INVALID_STATE', 'the trace had already ended; nothing changed'),
  );
}

/**
 * Retry a FAILED operation: a new operation with the same event, entity and kit (and the
 * original's reason, which the SaaS receives), through `requestOperation`, so the lifecycle
 * decides whether it may start now. `idempotencyKey` makes a double-submitted form start one.
 * (A `QUEUED` operation whose job failed is retried in its queue instead; see the dashboard.)
 */
export async function retryFailedOperation(
  em: EntityManager,
  request: AdminRequest & { readonly operationId: string; readonly idempotencyKey?: string },
): Promise<AdminActionResult> {
  const target = { action: 'operation.retry', target: `operation:${request.operationId}` } as const;
  const operation = UUID.test(request.operationId)
    ? await em.fork().findOne(CtpOperation, { id: request.operationId })
    : null;
  if (operation === null) return notFound(em, { ...target, actor: request.actor }, request, 'operation');
  const scope = { ...target, actor: request.actor, tenant: operation.tenant, entityId: operation.entityId };
  if (operation.status !== 'FAILED') {
    return audited(
      em,
      scope,
      request,
      refused('INVALID_STATE', `the operation is ${operation.status}; only a FAILED one starts again`),
    );
  }
  const started = (id: string): ActionOutcome => ({
    ok: true,
    message: `started operation ${id}`,
    operationId: id,
  });
  // A new operation commits with its audit row, in the request step's transaction; a replay of a
  // double-submitted form (which starts nothing) and a refusal are recorded on their own.
  const auditId = await nextAuditKey(em);
  let result: ActionOutcome;
  try {
    const { operation: accepted, replayed } = await requestOperation(
      em,
      {
        tenant: operation.tenant,
        event: operation.event,
        entityId: operation.entityId,
        ...(operation.kitNumber == null ? {} : { kitNo: operation.kitNumber }),
        ...(operation.reason == null ? {} : { reason: operation.reason }),
        ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
        traceparent: activeTraceparent(),
      },
      (created) => [auditInsert(auditId, auditEntryOf(scope, request, started(created.id)))],
    );
    result = started(accepted.id);
    if (!replayed) return { ...result, auditId };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    result = refused(error.code, error.message);
  }
  return audited(em, scope, request, result);
}

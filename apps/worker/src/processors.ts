import { feedBatches } from '@ctp/core/batches';
import { maskPansIn } from '@ctp/core/cards';
import type { Config } from '@ctp/core/config';
import type { Logger } from '@ctp/core/logging';
import {
  claimRedrive,
  type EncryptedPan,
  failQueuedOperation,
  findStalePendingSyncs,
  findStaleQueuedOperations,
  findUnprocessedWebhooks,
  IdempotencyConflict,
  keepTablesUp,
  type OperationFailure,
  pollDueTraces,
  processWebhook,
  promotePendingSyncs,
  pruneFinishedRows,
  recordWebhookFailure,
  submitOperation,
} from '@ctp/core/operations';
import { JOBS, jobIdFor, type QueueName } from '@ctp/core/queues';
import { pruneReconciliations } from '@ctp/core/reconciliation';
import type { SaasClient } from '@ctp/core/saas';
import { inSpan, SPAN_ATTRIBUTES } from '@ctp/core/tracing';
import type { Orm } from '@ctp/db';
import { DelayedError, type Job, type Queue, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { retryDelay } from './backoff.ts';
import type { TenantRateLimiter } from './tenant-rate.ts';

export interface ProcessorDependencies {
  readonly config: Config;
  readonly orm: Orm;
  readonly saas: SaasClient;
  readonly queues: Readonly<Record<QueueName, Queue>>;
  readonly limiter: TenantRateLimiter;
  readonly decryptPan: (kit: EncryptedPan) => string;
  readonly logger: Logger;
  /** One tick of the reconciliation schedule (`reconcile.ts`). */
  readonly reconcileTick?: () => Promise<unknown>;
}

/** A payload that does not match its schema can never succeed: fail it once, with the reason. */
function parsePayload<S extends z.ZodType>(schema: S, job: Job): z.infer<S> {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(
      `invalid job payload: ${parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`,
    );
  }
  return parsed.data;
}

/**
 * Per-tenant rate limit toward the SaaS (the tenant's `saasRatePerSecond`), shared by every worker
 * through Redis. Over the limit, the job is put back as delayed (not failed: no attempt is used
 * up) until the window frees. The submit step reads its operation meanwhile and sends nothing
 * before this passes (`submitOperation`'s gate).
 */
async function throttle(deps: ProcessorDependencies, job: Job, token: string | undefined, tenant: string) {
  const waitMs = await deps.limiter.take(tenant);
  if (waitMs === 0) return;
  await job.moveToDelayed(Date.now() + waitMs, token);
  throw new DelayedError();
}

/**
 * How many of a tenant's batch operations may wait for the SaaS at once: half a second of its
 * rate (at least one, at most 500). The queue then never holds more of a batch than the tenant
 * can send in that time, so the tenant's single operations and other tenants' jobs pass it
 * within about half a second.
 */
export function laneWindow(ratePerSecond: number): number {
  return Math.min(500, Math.max(1, Math.ceil(ratePerSecond / 2)));
}

/** The operations queue: submitting operations, and promoting pending automatic updates. */
export function operationsProcessor(deps: ProcessorDependencies) {
  const submit = submitProcessor(deps);
  const submitItems = submitItemsProcessor(deps);
  return async (job: Job, token?: string) => {
    if (job.name === JOBS.submitItems.name) return submitItems(job);
    if (job.name === JOBS.promoteSyncs.name) {
      const { tenant, entityId } = parsePayload(JOBS.promoteSyncs.payload, job);
      return promotePendingSyncs(deps.orm.em, tenant, entityId, deps.logger, {
        replacement: {
          attempts: deps.config.REPLACEMENT_STEP_ATTEMPTS,
          retryDelayMs: deps.config.REPLACEMENT_RETRY_DELAY_MS,
        },
        // A failed replacement step's retry: a promotion when it is due (the sweeper re-drives it
        // if this job is lost).
        onRetryLater: (ms) =>
          deps.queues[JOBS.promoteSyncs.queue].add(
            JOBS.promoteSyncs.name,
            { tenant, entityId },
            { delay: ms },
          ),
      });
    }
    return submit(job, token);
  };
}

/**
 * The failure of a submission that no retry can mend, or null for one that may (those throw, and
 * BullMQ retries them with backoff). The submit step fails the SaaS's own permanent refusals
 * itself; these are the ones it leaves to its caller.
 */
function permanentFailureOf(error: unknown): OperationFailure | null {
  if (error instanceof IdempotencyConflict) {
    // The SaaS holds other work under this operation's key: every retry gets the same 422. The
    // operation fails once, and its reason says the network's side is unknown, to be checked.
    return {
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: 'Request Refused',
      details: maskPansIn(
        `${error.message}; what the network did under this key is unknown: check before retrying`,
      ),
    };
  }
  return null;
}

function submitProcessor(deps: ProcessorDependencies) {
  const run = submitRun(deps);
  return async (job: Job, token?: string) => {
    const { operationId, tenant } = parsePayload(JOBS.submit.payload, job);
    return inSubmitSpan(operationId, tenant, () =>
      run(job, operationId, tenant, throttle(deps, job, token, tenant)),
    );
  };
}

/** One operation's submission as a `ctp submit` span, its outcome an attribute. */
function inSubmitSpan(operationId: string, tenant: string, submit: () => Promise<string>): Promise<string> {
  return inSpan(
    'ctp submit',
    { attributes: { [SPAN_ATTRIBUTES.operationId]: operationId, [SPAN_ATTRIBUTES.tenant]: tenant } },
    async (span) => {
      const result = await submit();
      span.setAttribute(SPAN_ATTRIBUTES.outcome, result);
      return result;
    },
  );
}

/** Why an item of a `submit-items` job was not sent: the tenant's rate has no room for it now. */
class RateWait extends Error {
  override readonly name = 'RateWait';

  readonly waitMs: number;

  constructor(waitMs: number) {
    super(`the tenant's SaaS rate has room again in ${waitMs} ms`);
    this.waitMs = waitMs;
  }
}

/**
 * A `submit-items` job: a few operations of a tenant's batches, each submitted as a `submit` job
 * submits one (`submitOperation`, the same gate, the same permanent failures), side by side. So a
 * batch item shares with the others of its job the job's queue work, the Redis call of their rate
 * takes (`CoalescedLimiter`) and the round trips of their reads and their recorded `202`s (the
 * shared transaction), and the job holds one of the worker's slots for the time of its slowest
 * item. An item the tenant's rate or a transient error holds back is handed to a `submit` job of
 * its own, delayed by the wait or the first backoff, and from there retried as any single
 * operation; this job fails (and is retried) only if a hand-off cannot be added. Run again after a
 * crash, it finds what it submitted no longer `QUEUED`, and sends the rest again under their
 * `Idempotency-Key`.
 */
function submitItemsProcessor(deps: ProcessorDependencies) {
  const run = submitRun(deps);
  return async (job: Job) => {
    const { tenant, operationIds } = parsePayload(JOBS.submitItems.payload, job);
    // Every item settles before the job ends either way: a job that fails (a hand-off refused)
    // is retried only once none of its items is still being sent.
    const settled = await Promise.allSettled(
      operationIds.map((operationId) =>
        inSubmitSpan(operationId, tenant, async () => {
          const gate = deps.limiter.take(tenant).then((waitMs) => {
            if (waitMs > 0) throw new RateWait(waitMs);
          });
          try {
            return await run(job, operationId, tenant, gate);
          } catch (error) {
            const delay = error instanceof RateWait ? error.waitMs : retryDelay(1, asError(error));
            await deps.queues[JOBS.submit.queue].add(
              JOBS.submit.name,
              { operationId, tenant },
              { jobId: jobIdFor('submit', operationId), delay },
            );
            deps.logger.debug(
              { operationId, tenant, jobId: job.id, delay, err: error },
              'batch operation handed to a job of its own',
            );
            return 'handed-off';
          }
        }),
      ),
    );
    const counts: Record<string, number> = {};
    for (const outcome of settled) {
      if (outcome.status === 'rejected') throw outcome.reason;
      counts[outcome.value] = (counts[outcome.value] ?? 0) + 1;
    }
    return counts;
  };
}

const asError = (error: unknown): Error | undefined => (error instanceof Error ? error : undefined);

function submitRun(deps: ProcessorDependencies) {
  return async (job: Job, operationId: string, tenant: string, gate: Promise<void>) => {
    let result: string;
    try {
      result = await submitOperation(
        {
          em: deps.orm.em,
          logger: deps.logger,
          saas: deps.saas,
          decryptPan: deps.decryptPan,
          firstPollAfterMs: deps.config.TRACE_FIRST_POLL_MS,
        },
        operationId,
        gate,
      );
    } catch (error) {
      const failure = permanentFailureOf(error);
      if (failure === null) throw error;
      await failQueuedOperation(deps.orm.em, operationId, failure);
      deps.logger.warn(
        { operationId, tenant, jobId: job.id, code: failure.code },
        'operation failed: permanent error',
      );
      return 'failed';
    }
    deps.logger.debug({ operationId, tenant, jobId: job.id, result }, 'operation submitted');
    return result;
  };
}

/**
 * Every failed try counts in the inbox row; at `WEBHOOK_MAX_ATTEMPTS` it is parked and the job
 * ends (completed: nothing retries it, the sweeper skips it). Before that the error is rethrown
 * for BullMQ's backoff.
 */
export function webhookProcessor(deps: ProcessorDependencies) {
  const run = webhookRun(deps);
  return async (job: Job) => {
    const { webhookId, tenant } = parsePayload(JOBS.webhook.payload, job);
    return inSpan(
      'ctp webhook',
      { attributes: { [SPAN_ATTRIBUTES.webhookId]: webhookId, [SPAN_ATTRIBUTES.tenant]: tenant } },
      async (span) => {
        const result = await run(job, webhookId);
        span.setAttribute(SPAN_ATTRIBUTES.outcome, String(result));
        return result;
      },
    );
  };
}

function webhookRun(deps: ProcessorDependencies) {
  return async (job: Job, webhookId: string) => {
    try {
      return await processWebhook(deps.orm.em, webhookId);
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      // If even the count cannot be written (PostgreSQL down), the try goes uncounted and the
      // original error is what BullMQ retries on.
      const parked = await recordWebhookFailure(deps.orm.em, webhookId, reason, {
        maxAttempts: deps.config.WEBHOOK_MAX_ATTEMPTS,
      }).catch(() => false);
      if (!parked) throw error;
      deps.logger.error({ webhookId, jobId: job.id, err: error }, 'webhook parked: its tries are spent');
      return 'parked';
    }
  };
}

export function maintenanceProcessor(deps: ProcessorDependencies) {
  return async (job: Job) => {
    if (job.name === JOBS.pollTraces.name) {
      return pollDueTraces(
        deps.orm.em,
        deps.saas,
        {
          batchSize: 200,
          concurrency: 16,
          deadlineMs: deps.config.TRACE_DEADLINE_MS,
          deadlineGraceMs: deps.config.TRACE_DEADLINE_GRACE_MS,
          maxIntervalMs: deps.config.TRACE_POLL_MAX_INTERVAL_MS,
        },
        deps.logger,
      );
    }
    if (job.name === JOBS.sweep.name) return sweep(deps);
    if (job.name === JOBS.feedBatches.name) {
      return feedBatches(deps.orm.em, {
        laneWindow: async (tenant) => laneWindow(await deps.limiter.rateOf(tenant)),
        logger: deps.logger,
      });
    }
    if (job.name === JOBS.reconcile.name && deps.reconcileTick) return deps.reconcileTick();
    if (job.name === JOBS.prune.name) {
      await pruneReconciliations(deps.orm.em, deps.config.RECONCILE_RETENTION_MS);
      return pruneFinishedRows(deps.orm.em, {
        outboxRetentionMs: deps.config.OUTBOX_RETENTION_MS,
        inboxRetentionMs: deps.config.WEBHOOK_INBOX_RETENTION_MS,
        batchSize: 1_000,
        maxBatches: 20,
      });
    }
    if (job.name === JOBS.upkeep.name) {
      const done = await keepTablesUp(deps.orm.em.fork());
      if (done.vacuumed.length + done.analyzed.length > 0)
        deps.logger.info(done, 'vacuumed and analyzed tables (autovacuum is off)');
      return done;
    }
    throw new UnrecoverableError(`unknown maintenance job ${job.name}`);
  };
}

/**
 * Re-drives work PostgreSQL says is unfinished but Redis has no live job for (lost with Redis's
 * last second, or failed once its retries were spent): the job is created again, or the failed
 * one retried with its attempts reset. A waiting, delayed or active job is left alone. An
 * operation's re-drives of a failed job are counted in PostgreSQL and bounded
 * (`SWEEP_MAX_REDRIVES`, with backoff); a webhook's are bounded by its parking.
 */
async function sweep(
  deps: ProcessorDependencies,
): Promise<{ operations: number; webhooks: number; syncs: number }> {
  const staleMs = deps.config.SWEEP_STALE_MS;
  let operations = 0;
  let webhooks = 0;
  const stale = await findStaleQueuedOperations(deps.orm.em, {
    olderThanMs: staleMs,
    maxRedrives: deps.config.SWEEP_MAX_REDRIVES,
    limit: 500,
  });
  for (const op of stale) {
    const queue = deps.queues[JOBS.submit.queue];
    const jobId = jobIdFor('submit', op.id);
    const state = await jobToRedrive(queue, jobId);
    if (state === null) continue;
    // Only a job that ended failed spends the budget: one lost with Redis never ran its
    // retries, and re-creating it is what PostgreSQL being the truth means.
    if (state === 'failed' && !(await claimRedrive(deps.orm.em, op.id, op.redrives))) continue;
    await redrive(queue, JOBS.submit.name, jobId, { operationId: op.id, tenant: op.tenant }, op.traceparent);
    operations += 1;
  }
  for (const hook of await findUnprocessedWebhooks(deps.orm.em, staleMs, 500)) {
    const queue = deps.queues[JOBS.webhook.queue];
    const jobId = jobIdFor('webhook', hook.webhook_id);
    if ((await jobToRedrive(queue, jobId)) === null) continue;
    await redrive(queue, JOBS.webhook.name, jobId, { webhookId: hook.webhook_id, tenant: hook.tenant });
    webhooks += 1;
  }
  let syncs = 0;
  for (const entity of await findStalePendingSyncs(deps.orm.em, staleMs, 500)) {
    const data = { tenant: entity.tenant, entityId: entity.entity_id };
    await deps.queues[JOBS.promoteSyncs.queue].add(JOBS.promoteSyncs.name, data);
    syncs += 1;
  }
  if (operations + webhooks + syncs > 0) {
    deps.logger.warn({ operations, webhooks, syncs }, 'sweeper re-drove unfinished work');
  }
  return { operations, webhooks, syncs };
}

/** The state that calls for a re-drive (`failed`, or no live job at all), or null when a job is live. */
async function jobToRedrive(queue: Queue, jobId: string): Promise<'failed' | 'missing' | null> {
  const job = await queue.getJob(jobId);
  const state = job ? await job.getState() : 'unknown';
  if (state === 'failed') return 'failed';
  if (state === 'completed' || state === 'unknown') return 'missing';
  return null;
}

async function redrive(
  queue: Queue,
  name: string,
  jobId: string,
  data: Record<string, string>,
  /** The operation's stored trace, which a job created again continues (bullmq-otel). */
  traceparent: string | null = null,
): Promise<void> {
  const job = await queue.getJob(jobId);
  const state = job ? await job.getState() : 'unknown';
  if (job && state === 'failed') {
    // A full run of retries again: without the reset, a job whose attempts are spent would run
    // once and fail at once.
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return;
  }
  if (job && state === 'completed') await job.remove();
  if (!job || state === 'completed' || state === 'unknown') {
    const telemetry =
      traceparent === null ? {} : { telemetry: { metadata: JSON.stringify({ traceparent }) } };
    await queue.add(name, data, { jobId, ...telemetry });
  }
}

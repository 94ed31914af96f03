import type { Config } from '@ctp/core/config';
import type { Logger } from '@ctp/core/logging';
import {
  type EncryptedPan,
  findStalePendingSyncs,
  findStaleQueuedOperations,
  findUnprocessedWebhooks,
  pollDueTraces,
  processWebhook,
  promotePendingSyncs,
  submitOperation,
} from '@ctp/core/operations';
import { JOBS, jobIdFor, type QueueName } from '@ctp/core/queues';
import type { SaasClient } from '@ctp/core/saas';
import type { Orm } from '@ctp/db';
import { DelayedError, type Job, type Queue, UnrecoverableError } from 'bullmq';
import type { RateLimiterRedis } from 'rate-limiter-flexible';
import type { z } from 'zod';

export interface ProcessorDependencies {
  readonly config: Config;
  readonly orm: Orm;
  readonly saas: SaasClient;
  readonly queues: Readonly<Record<QueueName, Queue>>;
  readonly limiter: RateLimiterRedis;
  readonly decryptPan: (kit: EncryptedPan) => string;
  readonly logger: Logger;
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
 * Per-tenant rate limit toward the SaaS, shared by every worker through Redis. Over the limit,
 * the job is put back as delayed (not failed: no attempt is used up) until the window frees.
 */
async function throttle(deps: ProcessorDependencies, job: Job, token: string | undefined, tenant: string) {
  try {
    await deps.limiter.consume(tenant);
  } catch (rejection) {
    if (rejection instanceof Error) throw rejection;
    const waitMs = (rejection as { msBeforeNext?: number }).msBeforeNext ?? 1_000;
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
}

/** The operations queue: submitting operations, and promoting pending automatic updates. */
export function operationsProcessor(deps: ProcessorDependencies) {
  const submit = submitProcessor(deps);
  return async (job: Job, token?: string) => {
    if (job.name === JOBS.promoteSyncs.name) {
      const { tenant, entityId } = parsePayload(JOBS.promoteSyncs.payload, job);
      return promotePendingSyncs(deps.orm.em, tenant, entityId, deps.logger);
    }
    return submit(job, token);
  };
}

function submitProcessor(deps: ProcessorDependencies) {
  return async (job: Job, token?: string) => {
    const { operationId, tenant } = parsePayload(JOBS.submit.payload, job);
    await throttle(deps, job, token, tenant);
    const result = await submitOperation(
      {
        em: deps.orm.em,
        logger: deps.logger,
        saas: deps.saas,
        decryptPan: deps.decryptPan,
        firstPollAfterMs: deps.config.TRACE_FIRST_POLL_MS,
      },
      operationId,
    );
    deps.logger.debug({ operationId, tenant, jobId: job.id, result }, 'operation submitted');
    return result;
  };
}

export function webhookProcessor(deps: ProcessorDependencies) {
  return async (job: Job) => {
    const { webhookId } = parsePayload(JOBS.webhook.payload, job);
    return processWebhook(deps.orm.em, webhookId);
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
          maxIntervalMs: deps.config.TRACE_POLL_MAX_INTERVAL_MS,
        },
        deps.logger,
      );
    }
    if (job.name === JOBS.sweep.name) return sweep(deps);
    throw new UnrecoverableError(`unknown maintenance job ${job.name}`);
  };
}

/**
 * Re-drives work PostgreSQL says is unfinished but Redis has no live job for (lost with Redis's
 * last second, or failed after its worker died too often): the job is created again, or a
 * failed one retried. A waiting, delayed or active job is left alone.
 */
async function sweep(
  deps: ProcessorDependencies,
): Promise<{ operations: number; webhooks: number; syncs: number }> {
  const staleMs = deps.config.SWEEP_STALE_MS;
  let operations = 0;
  let webhooks = 0;
  for (const op of await findStaleQueuedOperations(deps.orm.em, staleMs, 500)) {
    if (
      await redrive(deps.queues[JOBS.submit.queue], JOBS.submit.name, jobIdFor('submit', op.id), {
        operationId: op.id,
        tenant: op.tenant,
      })
    ) {
      operations += 1;
    }
  }
  for (const hook of await findUnprocessedWebhooks(deps.orm.em, staleMs, 500)) {
    const data = { webhookId: hook.webhook_id, tenant: hook.tenant };
    if (
      await redrive(
        deps.queues[JOBS.webhook.queue],
        JOBS.webhook.name,
        jobIdFor('webhook', hook.webhook_id),
        data,
      )
    ) {
      webhooks += 1;
    }
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

async function redrive(
  queue: Queue,
  name: string,
  jobId: string,
  data: Record<string, string>,
): Promise<boolean> {
  const job = await queue.getJob(jobId);
  const state = job ? await job.getState() : 'missing';
  if (job && state === 'failed') {
    await job.retry('failed');
    return true;
  }
  if (job && state === 'completed') await job.remove();
  if (!job || state === 'completed' || state === 'unknown') {
    await queue.add(name, data, { jobId });
    return true;
  }
  return false;
}

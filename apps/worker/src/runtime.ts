import { createPanCipher, PanDecryptionError } from '@ctp/core/cards';
import type { Config } from '@ctp/core/config';
import type { Logger } from '@ctp/core/logging';
import {
  createJobMetrics,
  createPipelineGauges,
  createReconcileMetrics,
  createSaasMetrics,
  createTraceMetrics,
  notificationStreamStats,
  outboxLagSeconds,
  parkedWebhookCount,
  queueJobCounts,
  type Registry,
} from '@ctp/core/metrics';
import { NOTIFICATION_DEDUPE_TTL_S, NotificationPublisher } from '@ctp/core/notifications';
import { type EncryptedPan, OutboxPublisher, UnbuildableRequest } from '@ctp/core/operations';
import { createRedis, JOBS, QUEUE_NAMES, type QueueName } from '@ctp/core/queues';
import { createJobQueues, queueTelemetry } from '@ctp/core/queues/job-queues';
import { SaasClient } from '@ctp/core/saas';
import type { Orm } from '@ctp/db';
import { type Queue, Worker } from 'bullmq';
import { retryDelay } from './backoff.ts';
import {
  maintenanceProcessor,
  operationsProcessor,
  type ProcessorDependencies,
  webhookProcessor,
} from './processors.ts';
import { reconcileTickJob } from './reconcile.ts';
import { OutboxRelay } from './relay.ts';
import { TenantRateLimiter } from './tenant-rate.ts';

export interface WorkerRuntime {
  readonly queues: Readonly<Record<QueueName, Queue>>;
  /** Readiness: Redis answers. */
  pingRedis(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Everything one worker process runs: the outbox relay, a BullMQ worker per queue and the
 * maintenance job schedulers (poller every second, sweeper every 15 s, retention every minute,
 * reconciliation every `RECONCILE_TICK_MS`). Several processes may run it side by side: the relay claims rows
 * with SKIP LOCKED, BullMQ hands each job to one worker, schedulers are upserted by id.
 */
export async function startWorkerRuntime(input: {
  config: Config;
  orm: Orm;
  logger: Logger;
  /** The process's metrics registry; the worker's metric families are added to it. */
  metrics?: Registry;
}): Promise<WorkerRuntime> {
  const { config, orm, logger } = input;
  const saasMetrics = input.metrics && createSaasMetrics(input.metrics);
  const jobMetrics = input.metrics && createJobMetrics(input.metrics);
  const traceMetrics = input.metrics && createTraceMetrics(input.metrics);
  const connection = createRedis(config.REDIS_URL);
  const prefix = config.QUEUE_PREFIX;
  // With tracing on, a job carries its trace context (bullmq-otel) from whoever adds it to the
  // worker that runs it (and runs it again after a crash).
  const telemetry = await queueTelemetry();
  const queues = await createJobQueues(connection, prefix);
  const saas = new SaasClient({
    baseUrl: config.CTP_SAAS_BASE_URL,
    apiKey: config.CTP_SAAS_API_KEY,
    timeoutMs: config.SAAS_TIMEOUT_MS,
    logger,
    ...(saasMetrics ? { onCall: saasMetrics.observe } : {}),
  });
  const cipher = createPanCipher({
    current: config.PAN_ENCRYPTION_KEY,
    previous: config.PAN_ENCRYPTION_PREVIOUS_KEYS,
  });
  const deps: ProcessorDependencies = {
    config,
    orm,
    saas,
    queues,
    logger,
    limiter: new TenantRateLimiter({
      orm,
      redis: connection,
      keyPrefix: `${prefix}:saas-rate`,
      defaultRate: config.SAAS_RATE_LIMIT_PER_SECOND,
    }),
    decryptPan: (kit: EncryptedPan) => {
      try {
        return cipher.decrypt(
          { ciphertext: kit.panCiphertext, keyId: kit.panKeyId },
          { tenant: kit.tenant, kitNo: kit.kitNo },
        );
      } catch (error) {
        // No retry decrypts it (tampered row, or its key is no longer configured): the request
        // cannot be built, and the submit step fails the operation once, with this reason.
        if (error instanceof PanDecryptionError) {
          throw new UnbuildableRequest(`the card's PAN cannot be decrypted: ${error.message}`);
        }
        throw error;
      }
    },
    reconcileTick: reconcileTickJob({
      connection,
      prefix,
      config,
      orm,
      saas,
      logger,
      metrics: input.metrics && createReconcileMetrics(input.metrics),
    }),
  };
  const settings = {
    backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) => retryDelay(attemptsMade, error),
  };
  const common = {
    connection,
    prefix,
    ...telemetry,
    settings,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: Math.max(1_000, Math.floor(config.WORKER_LOCK_DURATION_MS / 2)),
  };
  const workers = [
    new Worker(QUEUE_NAMES.operations, operationsProcessor(deps), common),
    new Worker(QUEUE_NAMES.resolutions, webhookProcessor(deps), common),
    new Worker(QUEUE_NAMES.maintenance, maintenanceProcessor(deps), { ...common, concurrency: 2 }),
  ];
  for (const worker of workers) {
    if (jobMetrics) {
      worker.on('completed', (job) => jobMetrics.completed(worker.name, job));
      worker.on('failed', (job) => jobMetrics.failed(worker.name, job));
      worker.on('stalled', () => jobMetrics.stalled(worker.name));
    }
    worker.on('failed', (job, error) => {
      logger.warn(
        { queue: worker.name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: error },
        'job failed',
      );
    });
    worker.on('error', (error) => logger.error({ queue: worker.name, err: error }, 'worker error'));
  }
  const maintenance = queues[QUEUE_NAMES.maintenance];
  await maintenance.upsertJobScheduler(
    JOBS.pollTraces.name,
    { every: 1_000 },
    { name: JOBS.pollTraces.name, data: {} },
  );
  await maintenance.upsertJobScheduler(
    JOBS.sweep.name,
    { every: 15_000 },
    { name: JOBS.sweep.name, data: {} },
  );
  await maintenance.upsertJobScheduler(
    JOBS.feedBatches.name,
    { every: config.BATCH_FEED_INTERVAL_MS },
    { name: JOBS.feedBatches.name, data: {} },
  );
  await maintenance.upsertJobScheduler(
    JOBS.reconcile.name,
    { every: config.RECONCILE_TICK_MS },
    { name: JOBS.reconcile.name, data: {} },
  );
  await maintenance.upsertJobScheduler(
    JOBS.prune.name,
    { every: 60_000 },
    { name: JOBS.prune.name, data: {} },
  );
  // Often enough that a table growing from empty under load is analyzed while it grows (by
  // autovacuum's rules, so most runs find nothing to do); a no-op where autovacuum runs.
  await maintenance.upsertJobScheduler(
    JOBS.upkeep.name,
    { every: 10_000 },
    { name: JOBS.upkeep.name, data: {} },
  );

  const notifications = new NotificationPublisher(connection, {
    stream: config.NOTIFICATION_STREAM,
    maxLength: config.NOTIFICATION_STREAM_MAXLEN,
    dedupeTtlSeconds: NOTIFICATION_DEDUPE_TTL_S,
  });
  // The rows this process's steps write (the batch feeder's jobs, the poller's outcomes) are
  // published right after their commit; the relay takes everyone else's, and what fails here.
  const ownRows = new OutboxPublisher({
    em: orm.em,
    queues,
    notifications,
    logger,
    redisTimeoutMs: config.OUTBOX_RELAY_REDIS_TIMEOUT_MS,
    leaseMs: config.OUTBOX_CLAIM_LEASE_MS,
    ...(traceMetrics ? { onTraceResolved: traceMetrics.observe } : {}),
  });
  await ownRows.attach();
  const relay = new OutboxRelay({
    orm,
    databaseUrl: config.DATABASE_URL,
    queues,
    publisher: notifications,
    logger,
    redisTimeoutMs: config.OUTBOX_RELAY_REDIS_TIMEOUT_MS,
    claimLeaseMs: config.OUTBOX_CLAIM_LEASE_MS,
    ...(traceMetrics ? { onTraceResolved: traceMetrics.observe } : {}),
  });
  if (input.metrics) {
    createPipelineGauges(input.metrics, {
      outboxLagSeconds: () => outboxLagSeconds(orm.em),
      parkedWebhooks: () => parkedWebhookCount(orm.em),
      notificationStream: () => notificationStreamStats(connection, config.NOTIFICATION_STREAM),
      queueJobCounts: () => queueJobCounts(Object.values(queues)),
    });
  }
  await relay.start();
  logger.info({ prefix, concurrency: config.WORKER_CONCURRENCY }, 'worker started');

  return {
    queues,
    pingRedis: async () => {
      if ((await connection.ping()) !== 'PONG') throw new Error('Redis did not answer PONG');
    },
    // Stop taking jobs and let the active ones finish (BullMQ hands back what it cannot finish:
    // a job whose lock lapses is picked up by another worker), then stop relaying, then disconnect.
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
      await ownRows.close();
      await relay.stop();
      await Promise.all(Object.values(queues).map((queue) => queue.close()));
      await saas.close();
      await connection.quit();
    },
  };
}

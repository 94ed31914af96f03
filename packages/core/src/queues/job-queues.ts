import { type DefaultJobOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { tracingEnabled } from '../tracing/index.ts';
import { QUEUE_NAMES, type QueueName } from './definitions.ts';

const DAY_S = 24 * 3600;

/**
 * Each queue's job options. Every process that adds jobs (the worker's relay, and since the
 * writers publish their own outbox rows, the api too) creates its queues here, so a job is the
 * same job whoever adds it. Retries of transient failures: ~25 attempts with backoff capped at
 * 5 min is over an hour (the backoff itself is the worker's `retryDelay`).
 */
export const JOB_OPTIONS: Readonly<Record<QueueName, DefaultJobOptions>> = {
  [QUEUE_NAMES.operations]: {
    attempts: 25,
    backoff: { type: 'custom' },
    removeOnComplete: { age: 3600, count: 50_000 },
    removeOnFail: { age: 7 * DAY_S },
  },
  [QUEUE_NAMES.resolutions]: {
    attempts: 12,
    backoff: { type: 'custom' },
    removeOnComplete: { age: 3600, count: 50_000 },
    removeOnFail: { age: 7 * DAY_S },
  },
  [QUEUE_NAMES.maintenance]: { attempts: 1, removeOnComplete: true, removeOnFail: 100 },
};

/** BullMQ's telemetry option: bullmq-otel only with tracing on (not loaded otherwise). */
export async function queueTelemetry(): Promise<{ telemetry?: import('bullmq').Telemetry }> {
  return tracingEnabled()
    ? { telemetry: new (await import('bullmq-otel')).BullMQOtel({ tracerName: 'bullmq' }) }
    : {};
}

/**
 * One BullMQ queue per queue name on `connection`, with the job options above. With tracing on, a
 * job carries its trace context (bullmq-otel) to the worker that runs it, at every retry.
 */
export async function createJobQueues(
  connection: Redis,
  prefix: string,
  /** A queue's connection errors (an `error` event with no listener would end the process). */
  onError?: (error: Error) => void,
): Promise<Record<QueueName, Queue>> {
  const telemetry = await queueTelemetry();
  return Object.fromEntries(
    Object.values(QUEUE_NAMES).map((name) => {
      const queue = new Queue(name, {
        connection,
        prefix,
        defaultJobOptions: JOB_OPTIONS[name],
        ...telemetry,
      });
      if (onError !== undefined) queue.on('error', onError);
      return [name, queue];
    }),
  ) as Record<QueueName, Queue>;
}

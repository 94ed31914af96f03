import { z } from 'zod';

/**
 * Queues, job names and job payloads. Payloads carry ids only (never card data): the worker
 * reads and decrypts what it needs just before the SaaS call.
 */
export const QUEUE_NAMES = {
  /** Submitting operations to the SaaS: jobId = operationId (a batch's: a few operations a job). */
  operations: 'ctp-operations',
  /** Resolving webhook deliveries taken in by the api. */
  resolutions: 'ctp-resolutions',
  /** Job schedulers: the trace poller, the sweeper and retention. */
  maintenance: 'ctp-maintenance',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

const tenant = z.string().min(1).max(64);

/** At most this many batch operations go in one `submit-items` job. */
export const SUBMIT_ITEMS_MAX = 16;

export const JOBS = {
  submit: {
    queue: QUEUE_NAMES.operations,
    name: 'submit',
    payload: z.strictObject({ operationId: z.uuid(), tenant }),
  },
  /**
   * A few operations of a tenant's batches submitted side by side by one job (`submitItems` in the
   * worker): they share the job's queue work, the Redis call of their rate takes and the round
   * trips of their reads and their `202`s. An item that cannot go now is handed to a `submit` job
   * of its own.
   */
  submitItems: {
    queue: QUEUE_NAMES.operations,
    name: 'submit-items',
    payload: z.strictObject({
      tenant,
      operationIds: z.array(z.uuid()).min(1).max(SUBMIT_ITEMS_MAX),
    }),
  },
  webhook: {
    queue: QUEUE_NAMES.resolutions,
    name: 'webhook',
    payload: z.strictObject({ webhookId: z.string().min(1).max(255), tenant }),
  },
  /** Turns an entity's pending automatic update into an operation once none is in flight. */
  promoteSyncs: {
    queue: QUEUE_NAMES.operations,
    name: 'promote-syncs',
    payload: z.strictObject({ tenant, entityId: z.string().min(1).max(64) }),
  },
  pollTraces: { queue: QUEUE_NAMES.maintenance, name: 'poll-traces', payload: z.strictObject({}) },
  sweep: { queue: QUEUE_NAMES.maintenance, name: 'sweep', payload: z.strictObject({}) },
  /** Turns batch items into operations, a window per tenant at a time (`batches/feeder.ts`). */
  feedBatches: { queue: QUEUE_NAMES.maintenance, name: 'feed-batches', payload: z.strictObject({}) },
  /** Deletes finished outbox and inbox rows past their retention, in small batches. */
  prune: { queue: QUEUE_NAMES.maintenance, name: 'prune', payload: z.strictObject({}) },
  /** Autovacuum's work on the service's tables, where autovacuum is off (`table-upkeep.ts`). */
  upkeep: { queue: QUEUE_NAMES.maintenance, name: 'table-upkeep', payload: z.strictObject({}) },
  /** One tick of the reconciliation schedule (and of reconciliations on request). */
  reconcile: { queue: QUEUE_NAMES.maintenance, name: 'reconcile', payload: z.strictObject({}) },
} as const;

export type JobKind = keyof typeof JOBS;
export type JobPayload<K extends JobKind> = z.infer<(typeof JOBS)[K]['payload']>;

/** The outbox topics that become jobs (`kind = 'job'`), by job kind. */
export const JOB_TOPICS = {
  submit: 'job.submit',
  /** A batch operation's submission: its rows are published as `submit-items` jobs, a few a job. */
  submitItems: 'job.submit-items',
  webhook: 'job.webhook',
  promoteSyncs: 'job.promote-syncs',
} as const satisfies Partial<Record<JobKind, string>>;
export type JobTopic = (typeof JOB_TOPICS)[keyof typeof JOB_TOPICS];

/**
 * BullMQ job ids may not contain `:`; ours are uuids or Standard Webhooks ids, made safe here
 * without losing uniqueness.
 */
export function jobIdFor(kind: JobKind, key: string): string {
  const safe = key.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return kind === 'submit' ? safe : `${kind}-${safe}`;
}

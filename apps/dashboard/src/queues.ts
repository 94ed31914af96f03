import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { JOBS, jobIdFor, QUEUE_NAMES, type QueueName } from '@ctp/core/queues';
import { serveStatic } from '@hono/node-server/serve-static';
import { Queue } from 'bullmq';
import type { Hono } from 'hono';
import type { Redis } from 'ioredis';

export type Queues = Readonly<Record<QueueName, Queue>>;

/** The system's queues, as the worker names and prefixes them (`QUEUE_PREFIX`). */
export function openQueues(connection: Redis, prefix: string): Queues {
  return Object.fromEntries(
    Object.values(QUEUE_NAMES).map((name) => [name, new Queue(name, { connection, prefix })]),
  ) as Record<QueueName, Queue>;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
}

export const BULL_BOARD_PATH = '/queues';
/** Bull Board's JSON API, which its front end calls (every write of the board is under it). */
export const BULL_BOARD_API_PATH = `${BULL_BOARD_PATH}/api`;

/** Bull Board over every queue of the system, mounted at `/queues` (behind the dashboard's login). */
export function bullBoardRoutes(queues: Queues): Hono {
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: Object.values(queues).map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'CTP queues' } },
  });
  return serverAdapter.registerPlugin();
}

export interface SubmitJobState {
  readonly state: string;
  readonly attemptsMade: number;
  readonly failedReason: string | null;
  /** A batch's `submit-items` job, which submits a few operations side by side. */
  readonly shared: boolean;
}

const MISSING: SubmitJobState = { state: 'missing', attemptsMade: 0, failedReason: null, shared: false };

/** The states in which a `submit-items` job still holds its operations. */
const SHARED_JOB_STATES = ['active', 'waiting', 'prioritized', 'delayed'] as const;
/** How many jobs of those states are looked through: the feeder keeps far fewer of a batch's. */
const SHARED_JOB_SCAN = 2_000;

/**
 * The state of each operation's submit job: its own (job id = operation id), or else, for a
 * batch's operation, the `submit-items` job that holds it while that waits or runs; otherwise
 * `missing`. A `submit-items` job that ended hands every item it could not submit to a job of the
 * item's own, so only its live states are looked for (one scan, for all the operations asked).
 */
export async function submitJobStates(
  queues: Queues,
  operationIds: readonly string[],
): Promise<Map<string, SubmitJobState>> {
  const queue = queues[JOBS.submit.queue];
  const own = await Promise.all(
    operationIds.map(async (operationId) => {
      const job = await queue.getJob(jobIdFor('submit', operationId));
      if (job === undefined) return [operationId, null] as const;
      const state: SubmitJobState = {
        state: await job.getState(),
        attemptsMade: job.attemptsMade,
        failedReason: job.failedReason ?? null,
        shared: false,
      };
      return [operationId, state] as const;
    }),
  );
  const shared = own.some(([, state]) => state === null) ? await sharedJobStates(queue) : null;
  return new Map(own.map(([id, state]) => [id, state ?? shared?.get(id) ?? MISSING]));
}

async function sharedJobStates(queue: Queue): Promise<Map<string, SubmitJobState>> {
  const byOperation = new Map<string, SubmitJobState>();
  for (const state of SHARED_JOB_STATES) {
    for (const job of await queue.getJobs([state], 0, SHARED_JOB_SCAN - 1)) {
      if (job.name !== JOBS.submitItems.name) continue;
      const parsed = JOBS.submitItems.payload.safeParse(job.data);
      if (!parsed.success) continue;
      const found: SubmitJobState = {
        state,
        attemptsMade: job.attemptsMade,
        failedReason: job.failedReason ?? null,
        shared: true,
      };
      for (const id of parsed.data.operationIds) byOperation.set(id, found);
    }
  }
  return byOperation;
}

/** The state of one operation's submit job (`submitJobStates`). */
export async function submitJobState(queues: Queues, operationId: string): Promise<SubmitJobState> {
  return (await submitJobStates(queues, [operationId])).get(operationId) ?? MISSING;
}

/**
 * Runs a failed submit job again with a full set of attempts (a plain `retry` keeps the attempts
 * it used up, so the job would run once and fail again). False unless it had failed.
 */
export async function retryFailedSubmitJob(queues: Queues, operationId: string): Promise<boolean> {
  const job = await queues[JOBS.submit.queue].getJob(jobIdFor('submit', operationId));
  if (job === undefined || (await job.getState()) !== 'failed') return false;
  await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  return true;
}

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
}

/** The state of an operation's submit job (job id = operation id), or `missing`. */
export async function submitJobState(queues: Queues, operationId: string): Promise<SubmitJobState> {
  const job = await queues[JOBS.submit.queue].getJob(jobIdFor('submit', operationId));
  if (job === undefined) return { state: 'missing', attemptsMade: 0, failedReason: null };
  return {
    state: await job.getState(),
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason ?? null,
  };
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

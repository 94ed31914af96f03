import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Logger } from 'pino';
import type { SaasClient } from '../saas/client.ts';
import { SaasError } from '../saas/errors.ts';
import { outcomeOf, resolveTraceOutcome } from './resolve-trace.ts';

export interface PollOptions {
  /** Traces claimed per tick. */
  readonly batchSize: number;
  /** A trace still `IN_PROGRESS` this long after it was created fails with a timeout error. */
  readonly deadlineMs: number;
  /** Longest wait between two polls of one trace. */
  readonly maxIntervalMs: number;
  readonly concurrency: number;
}

interface DueTrace {
  pkey: string;
  tenant: string;
  request_trace_ID: string;
  created_at: Date;
}

/**
 * One tick of the trace poller. Claims the due `IN_PROGRESS` traces and pushes their next poll
 * back (exponential per trace: 1 s, 2 s, 4 s … up to `maxIntervalMs`) in one statement, with
 * `SKIP LOCKED` so several workers never poll the same trace at once; then asks `/status` for
 * each and resolves the terminal ones. Past the deadline a trace fails with `TIMEOUT`.
 * Returns the number of traces resolved.
 */
export async function pollDueTraces(
  em: EntityManager,
  saas: SaasClient,
  options: PollOptions,
  logger?: Logger,
): Promise<number> {
  const due = await em.fork().execute<DueTrace[]>(
    `update "ctp_requestIdTracking" t
        set next_poll_at = now() + least(?::int, (1000 * power(2, least(t.poll_attempts, 16)))::int) * interval '1 millisecond',
            poll_attempts = t.poll_attempts + 1
      where t.pkey in (
        select pkey from "ctp_requestIdTracking"
         where status_ctp = 'IN_PROGRESS' and (next_poll_at is null or next_poll_at <= now())
         order by next_poll_at nulls first
         limit ? for update skip locked)
      returning t.pkey, t.tenant, t."request_trace_ID", t.created_at`,
    [options.maxIntervalMs, options.batchSize],
  );
  let resolved = 0;
  const queue = [...due];
  const worker = async () => {
    for (let trace = queue.shift(); trace !== undefined; trace = queue.shift()) {
      if (await pollOne(em, saas, trace, options, logger)) resolved += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, queue.length) }, worker));
  return resolved;
}

async function pollOne(
  em: EntityManager,
  saas: SaasClient,
  trace: DueTrace,
  options: PollOptions,
  logger?: Logger,
): Promise<boolean> {
  const requestTraceId = trace.request_trace_ID;
  const log = logger?.child({ tenant: trace.tenant, requestTraceId });
  if (Date.now() - new Date(trace.created_at).getTime() > options.deadlineMs) {
    const result = await resolveTraceOutcome(em, trace.tenant, {
      requestTraceId,
      status: 'FAILED',
      error: {
        code: 'TIMEOUT',
        message: 'Request Timed Out',
        details: `no result within ${options.deadlineMs} ms`,
      },
    });
    log?.warn({ result }, 'trace failed: deadline passed');
    return result === 'resolved';
  }
  try {
    const outcome = outcomeOf(await saas.getStatus(trace.tenant, requestTraceId));
    if (outcome === null) return false;
    return (await resolveTraceOutcome(em, trace.tenant, outcome)) === 'resolved';
  } catch (error) {
    // The next tick tries again (its next poll is already scheduled); nothing is lost.
    if (error instanceof SaasError)
      log?.warn({ code: error.code, status: error.status }, 'trace poll failed');
    else log?.error({ err: error }, 'trace poll failed');
    return false;
  }
}

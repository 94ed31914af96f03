import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Logger } from 'pino';
import type { SaasClient } from '../saas/client.ts';
import { SaasError } from '../saas/errors.ts';
import { outcomeOf, resolveTraceOutcome, type TraceOutcome } from './resolve-trace.ts';
import { claimDueTraces, type DueTrace } from './trace-writes.ts';

export interface PollOptions {
  /** Traces claimed per tick. */
  readonly batchSize: number;
  /** A trace still `IN_PROGRESS` at the SaaS this long after it was created fails with a timeout error. */
  readonly deadlineMs: number;
  /** Past the deadline, how long an unreachable SaaS is waited for before the trace fails anyway. */
  readonly deadlineGraceMs: number;
  /** Longest wait between two polls of one trace. */
  readonly maxIntervalMs: number;
  readonly concurrency: number;
}

/**
 * One tick of the trace poller: claims the due traces, asks `/status` for each and resolves the
 * terminal ones. Returns the number of traces resolved.
 *
 * The deadline never overrides the network: a trace past it is still asked once more, and a
 * SUCCESS or FAILED there is applied (polls may be a minute apart, so the network may well have
 * finished since the last one). Only a trace the SaaS reports still `IN_PROGRESS`, or does not
 * know (404), fails with `TIMEOUT`. While the SaaS cannot answer, the trace waits for its next
 * poll, up to `deadlineGraceMs` past the deadline; after that it fails with `TIMEOUT` whose
 * details say the outcome is unknown (the entity cannot stay blocked for ever, and an operator
 * reading the failure knows to check with the network).
 */
export async function pollDueTraces(
  em: EntityManager,
  saas: SaasClient,
  options: PollOptions,
  logger?: Logger,
): Promise<number> {
  const due = await claimDueTraces(em, options.maxIntervalMs, options.batchSize);
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

const timeout = (details: string): TraceOutcome['error'] => ({
  code: 'TIMEOUT',
  message: 'Request Timed Out',
  details,
});

async function pollOne(
  em: EntityManager,
  saas: SaasClient,
  trace: DueTrace,
  options: PollOptions,
  logger?: Logger,
): Promise<boolean> {
  const requestTraceId = trace.request_trace_ID;
  const log = logger?.child({ tenant: trace.tenant, requestTraceId });
  const overdueMs = Date.now() - new Date(trace.created_at).getTime() - options.deadlineMs;
  let outcome: TraceOutcome | null;
  try {
    outcome = outcomeOf(await saas.getStatus(trace.tenant, requestTraceId));
  } catch (error) {
    const unknownTrace = error instanceof SaasError && error.status === 404;
    if (overdueMs > 0 && unknownTrace) {
      outcome = {
        requestTraceId,
        status: 'FAILED',
        error: timeout(`no result within ${options.deadlineMs} ms; the SaaS does not know the trace`),
      };
    } else if (overdueMs > options.deadlineGraceMs) {
      outcome = {
        requestTraceId,
        status: 'FAILED',
        error: timeout(
          `no result within ${options.deadlineMs} ms, and the SaaS could not be asked for ${options.deadlineGraceMs} ms more: outcome unknown`,
        ),
      };
    } else {
      // The next tick tries again (its next poll is already scheduled); nothing is lost.
      if (error instanceof SaasError)
        log?.warn({ code: error.code, status: error.status, overdueMs }, 'trace poll failed');
      else log?.error({ err: error, overdueMs }, 'trace poll failed');
      return false;
    }
  }
  if (outcome === null) {
    if (overdueMs <= 0) return false;
    outcome = {
      requestTraceId,
      status: 'FAILED',
      error: timeout(`no result within ${options.deadlineMs} ms; the SaaS still reports IN_PROGRESS`),
    };
  }
  const result = await resolveTraceOutcome(em, trace.tenant, outcome);
  if (overdueMs > 0)
    log?.warn({ result, status: outcome.status, overdueMs }, 'trace resolved at its deadline');
  return result === 'resolved';
}

import type { TraceResult } from '@ctp/core/contracts';
import type { CtpEvent, TraceStatus } from '@ctp/core/lifecycle';
import { type Clock, chance, type Random } from './clock.ts';
import { type Command, commandInstrumentId } from './commands.ts';
import { SimError } from './errors.ts';
import type { Faults } from './faults.ts';
import type { Network } from './network.ts';
import { applyCommand, checkCommand } from './network-rules.ts';

/**
 * Request traces and their asynchronous completion. A trace is created IN_PROGRESS when a
 * request is accepted and ends SUCCESS or FAILED once, after the completion delay; the network
 * model changes only then. While a trace is in progress its consumer is busy: any other
 * operation on that consumer is refused with 409 (the network works one request per consumer
 * at a time, and the platform must not race itself).
 */

export interface TraceError {
  readonly code: 'REQUEST_REJECTED';
  readonly message: string;
  readonly details: string;
}

export interface TraceRecord {
  readonly requestTraceId: string;
  readonly tenant: string;
  readonly event: CtpEvent;
  readonly idempotencyKey: string;
  readonly createdAt: number;
  readonly command: Command;
  status: TraceStatus;
  clickToPayCustomerId: string | undefined;
  clickToPayPaymentInstrumentId: string | undefined;
  error: TraceError | undefined;
  updatedAt: number;
}

/** `GET /status` and the `data` of `request.completed`: exactly the contract's shape. */
export function traceView(trace: TraceRecord): TraceResult {
  const externalInstrumentId = commandInstrumentId(trace.command);
  return {
    requestTraceId: trace.requestTraceId,
    event: trace.event,
    status: trace.status,
    externalConsumerId: trace.command.externalConsumerId,
    ...(externalInstrumentId === undefined ? {} : { externalInstrumentId }),
    ...(trace.clickToPayCustomerId === undefined ? {} : { clickToPayCustomerId: trace.clickToPayCustomerId }),
    ...(trace.clickToPayPaymentInstrumentId === undefined
      ? {}
      : { clickToPayPaymentInstrumentId: trace.clickToPayPaymentInstrumentId }),
    ...(trace.error === undefined ? {} : { error: trace.error }),
    updatedAt: new Date(trace.updatedAt).toISOString(),
  };
}

/** The ids known while a trace is in progress: what the request itself named. */
function requestedIds(
  command: Command,
): Pick<TraceRecord, 'clickToPayCustomerId' | 'clickToPayPaymentInstrumentId'> {
  return {
    clickToPayCustomerId: 'clickToPayCustomerId' in command ? command.clickToPayCustomerId : undefined,
    clickToPayPaymentInstrumentId:
      'clickToPayPaymentInstrumentId' in command ? command.clickToPayPaymentInstrumentId : undefined,
  };
}

export interface TraceEngineOptions {
  readonly network: Network;
  readonly clock: Clock;
  readonly random: Random;
  readonly newId: () => string;
  readonly faults: () => Faults;
  readonly completionDelayMs: number;
  /** How long terminal traces stay readable on `/status`. */
  readonly retentionMs: number;
  /**
   * Told of every terminal trace; `immediate` when completed ahead of its 202 (the caller then
   * waits for the returned first delivery attempt).
   */
  readonly onCompleted: (trace: TraceRecord, immediate: boolean) => Promise<void>;
}

export function createTraceEngine(options: TraceEngineOptions) {
  const { network, clock, random, newId, faults, onCompleted } = options;
  const traces = new Map<string, TraceRecord>();
  const busy = new Map<string, string>();
  const timers = new Map<string, NodeJS.Timeout>();
  const busyKey = (tenant: string, consumerId: string) => `${tenant}\u0000${consumerId}`;

  function finish(trace: TraceRecord): void {
    if (trace.status !== 'IN_PROGRESS') return;
    const rejectedBy = rejection(trace);
    if (rejectedBy === undefined) {
      const outcome = applyCommand(network, trace.tenant, trace.command, newId);
      trace.clickToPayCustomerId = outcome.clickToPayCustomerId;
      trace.clickToPayPaymentInstrumentId = outcome.clickToPayPaymentInstrumentId;
      trace.status = 'SUCCESS';
    } else {
      const text = faults().answerText;
      trace.error = {
        code: 'REQUEST_REJECTED',
        message: text.rejectionMessage ?? 'Request Rejected',
        details: text.rejectionDetails ?? rejectedBy,
      };
      trace.status = 'FAILED';
    }
    trace.updatedAt = clock.now();
    busy.delete(busyKey(trace.tenant, trace.command.externalConsumerId));
    const timer = timers.get(trace.requestTraceId);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(trace.requestTraceId);
  }

  /** Why the network turns the request down at completion, if it does. */
  function rejection(trace: TraceRecord): string | undefined {
    if (chance(random, faults().rejectionRate)) return 'rejected by the network (simulated: rejectionRate)';
    // The network may have changed the records by itself since the request was accepted
    // (an admin network action); the command is judged again against what holds now.
    try {
      checkCommand(network, trace.tenant, trace.command);
      return undefined;
    } catch (error) {
      if (error instanceof SimError) return `the network state changed meanwhile: ${error.message}`;
      throw error;
    }
  }

  return {
    /** Accepts `command` or throws the 404/409 the network answers now. */
    accept(tenant: string, command: Command, idempotencyKey: string): TraceRecord {
      const consumer = busyKey(tenant, command.externalConsumerId);
      if (busy.has(consumer)) {
        throw new SimError('CONFLICT', 'an operation on this consumer is still in progress');
      }
      checkCommand(network, tenant, command);
      const now = clock.now();
      const trace: TraceRecord = {
        requestTraceId: newId(),
        tenant,
        event: command.event,
        idempotencyKey,
        createdAt: now,
        command,
        status: 'IN_PROGRESS',
        ...requestedIds(command),
        error: undefined,
        updatedAt: now,
      };
      traces.set(trace.requestTraceId, trace);
      busy.set(consumer, trace.requestTraceId);
      const timer = setTimeout(() => {
        finish(trace);
        void onCompleted(trace, false);
      }, options.completionDelayMs);
      timers.set(trace.requestTraceId, timer);
      return trace;
    },
    /** Completes a trace at once (the webhookBeforeAccept fault); resolves after its first delivery attempt. */
    completeNow(trace: TraceRecord): Promise<void> {
      if (trace.status !== 'IN_PROGRESS') return Promise.resolve();
      finish(trace);
      return onCompleted(trace, true);
    },
    get(tenant: string, requestTraceId: string): TraceRecord | undefined {
      const trace = traces.get(requestTraceId);
      return trace?.tenant === tenant ? trace : undefined;
    },
    all: (): IterableIterator<TraceRecord> => traces.values(),
    inProgress: (): number => timers.size,
    /** Forgets terminal traces older than the retention; traces are kept in creation order. */
    sweep(): number {
      const cutoff = clock.now() - options.retentionMs;
      let dropped = 0;
      for (const [id, trace] of traces) {
        if (trace.createdAt > cutoff) break;
        if (trace.status === 'IN_PROGRESS') continue;
        traces.delete(id);
        dropped++;
      }
      return dropped;
    },
    clear(): void {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      busy.clear();
      traces.clear();
    },
  };
}

export type TraceEngine = ReturnType<typeof createTraceEngine>;

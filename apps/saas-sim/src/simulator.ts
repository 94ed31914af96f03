import type { TraceResult } from '@ctp/core/contracts';
import type { NetworkStatus } from '@ctp/core/lifecycle';
import type { Logger } from '@ctp/core/logging';
import type { Hono } from 'hono';
import { createSimulatorApp } from './app.ts';
import { type Clock, type Random, randomId, sleep, systemClock, systemRandom } from './clock.ts';
import { type CountersSnapshot, createCounters } from './counters.ts';
import { applyFaultsPatch, type Faults, type FaultsInput, faultsSchema } from './faults.ts';
import { createFingerprinter, createIdempotencyStore } from './idempotency.ts';
import { adminConsumerView, createNetwork } from './network.ts';
import { changeConsumerStatus, changeInstrumentStatus, type NetworkChange } from './network-changes.ts';
import { createTraceEngine, traceView } from './traces.ts';
import { fieldProblems, invalidRequest } from './validation.ts';
import { createWebhookDispatcher, PRODUCTION_REDELIVERY_DELAYS_MS } from './webhooks.ts';

/**
 * The CTP SaaS simulator: the contract's eight endpoints over an in-memory network model,
 * asynchronous completion, signed webhooks with redelivery, fault injection and admin
 * controls. Everything lives in this factory's closure, so tests build as many independent
 * simulators as they like.
 */

export interface SimulatorOptions {
  readonly apiKey: string;
  /** `whsec_<base64>`, shared with the platform. */
  readonly webhookSecret: string;
  /** Where webhooks go; `null` sends none (counted as skipped). */
  readonly webhookUrl: string | null;
  readonly tenants: readonly string[];
  readonly logger: Logger;
  /** Time from acceptance to the trace's terminal status. Default 200. */
  readonly completionDelayMs?: number;
  /** Initial fault settings, validated; all off by default. `reset` returns to these. */
  readonly faults?: FaultsInput;
  /** Delays before redelivery 1, 2, ...; default Standard Webhooks' schedule (about 27 h). */
  readonly redeliveryDelaysMs?: readonly number[];
  /** A delivery not answered within this is failed and redelivered. Default 10 000 (contract). */
  readonly webhookTimeoutMs?: number;
  /** Idempotency keys and terminal traces are kept this long. Default 24 h (contract). */
  readonly idempotencyTtlMs?: number;
  /** Bound of the idempotency store. Default 200 000. */
  readonly maxIdempotencyKeys?: number;
  /** Period of the expiry sweep. Default 60 000. */
  readonly sweepIntervalMs?: number;
  /** Largest accepted request body; larger is 413. Default 64 KiB. */
  readonly bodyLimitBytes?: number;
  /** Mount the `/__sim` admin routes. Default true. */
  readonly admin?: boolean;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly newId?: () => string;
}

export type AdminConsumerView = ReturnType<typeof adminConsumerView>;

export interface NetworkChangeAnswer {
  /** False when the record already had that status (nothing sent). */
  readonly changed: boolean;
  /** The webhook-id of the `*.status_changed` message, when one was sent. */
  readonly webhookId: string | null;
  readonly consumer: AdminConsumerView;
}

export interface SimulatorState {
  readonly tenants: Record<string, { readonly consumers: AdminConsumerView[] }>;
  readonly traces: (TraceResult & { readonly tenant: string; readonly idempotencyKey: string })[];
  readonly idempotency: { readonly keys: number; readonly evicted: number };
  readonly inProgress: number;
  readonly pendingWebhooks: number;
  readonly counters: CountersSnapshot;
  readonly faults: Faults;
}

export interface Simulator {
  readonly app: Hono;
  faults(): Faults;
  /** Lays a partial fault set over the current one; throws 400 INVALID_REQUEST if invalid. */
  setFaults(patch: unknown): Faults;
  state(): SimulatorState;
  /** Forgets the network, traces, keys, counters and pending webhooks; faults back to boot. */
  reset(): void;
  setConsumerStatus(tenant: string, externalConsumerId: string, status: NetworkStatus): NetworkChangeAnswer;
  setInstrumentStatus(
    tenant: string,
    externalConsumerId: string,
    externalInstrumentId: string,
    status: NetworkStatus,
  ): NetworkChangeAnswer;
  /** Resolves when no trace is in progress and no webhook is scheduled or in flight. */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function createSimulator(options: SimulatorOptions): Simulator {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const newId = options.newId ?? randomId;
  const ttlMs = options.idempotencyTtlMs ?? 24 * 3_600_000;
  const bootFaults = faultsSchema.parse(options.faults ?? {});
  let faults = bootFaults;
  const currentFaults = () => faults;

  const counters = createCounters();
  const network = createNetwork(options.tenants);
  const store = createIdempotencyStore({ ttlMs, maxEntries: options.maxIdempotencyKeys ?? 200_000, clock });
  const webhooks = createWebhookDispatcher({
    url: options.webhookUrl,
    secret: options.webhookSecret,
    clock,
    random,
    newId,
    faults: currentFaults,
    redeliveryDelaysMs: options.redeliveryDelaysMs ?? PRODUCTION_REDELIVERY_DELAYS_MS,
    timeoutMs: options.webhookTimeoutMs ?? 10_000,
    counts: counters.webhooks,
    logger: options.logger,
  });
  const engine = createTraceEngine({
    network,
    clock,
    random,
    newId,
    faults: currentFaults,
    completionDelayMs: options.completionDelayMs ?? 200,
    retentionMs: ttlMs,
    onCompleted: (trace, immediate) => {
      options.logger.info(
        { tenant: trace.tenant, requestTraceId: trace.requestTraceId, status: trace.status },
        'request trace completed',
      );
      const body = { type: 'request.completed', tenant: trace.tenant, data: traceView(trace) } as const;
      return webhooks.send(trace.tenant, body, { immediate }).firstAttempt;
    },
  });

  const sweeper = setInterval(() => {
    store.sweep();
    engine.sweep();
  }, options.sweepIntervalMs ?? 60_000);
  sweeper.unref();

  function announce(tenant: string, change: NetworkChange, externalConsumerId: string): NetworkChangeAnswer {
    const record = network.consumer(tenant, externalConsumerId);
    if (record === undefined) throw new Error('a changed consumer must exist');
    const sent = change.webhook === undefined ? undefined : webhooks.send(tenant, change.webhook);
    options.logger.info(
      { tenant, externalConsumerId, changed: change.changed, webhookId: sent?.id },
      'network-driven change',
    );
    return { changed: change.changed, webhookId: sent?.id ?? null, consumer: adminConsumerView(record) };
  }

  const handles: Omit<Simulator, 'app'> = {
    faults: currentFaults,
    setFaults(patch) {
      const result = applyFaultsPatch(faults, patch);
      if (!result.success)
        throw invalidRequest('the fault settings are invalid', fieldProblems(result.error));
      faults = result.data;
      options.logger.info({ faults }, 'faults changed');
      return faults;
    },
    state: () => ({
      tenants: Object.fromEntries(
        [...network.tenants].map(([tenant, consumers]) => [
          tenant,
          { consumers: [...consumers.values()].map(adminConsumerView) },
        ]),
      ),
      traces: [...engine.all()].map((t) => ({
        tenant: t.tenant,
        idempotencyKey: t.idempotencyKey,
        ...traceView(t),
      })),
      idempotency: { keys: store.stats().size, evicted: store.stats().evicted },
      inProgress: engine.inProgress(),
      pendingWebhooks: webhooks.pending(),
      counters: counters.snapshot(),
      faults,
    }),
    reset() {
      engine.clear();
      webhooks.clear();
      store.clear();
      network.clear();
      counters.clear();
      faults = bootFaults;
    },
    setConsumerStatus: (tenant, externalConsumerId, status) =>
      announce(
        tenant,
        changeConsumerStatus(network, tenant, externalConsumerId, status, new Date(clock.now())),
        externalConsumerId,
      ),
    setInstrumentStatus: (tenant, externalConsumerId, externalInstrumentId, status) =>
      announce(
        tenant,
        changeInstrumentStatus(
          network,
          tenant,
          externalConsumerId,
          externalInstrumentId,
          status,
          new Date(clock.now()),
        ),
        externalConsumerId,
      ),
    async idle(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (engine.inProgress() > 0 || webhooks.pending() > 0) {
        if (Date.now() > deadline) throw new Error(`simulator not idle after ${timeoutMs} ms`);
        await sleep(5);
      }
    },
    async close() {
      clearInterval(sweeper);
      engine.clear();
      webhooks.close();
    },
  };

  const app = createSimulatorApp({
    apiKey: options.apiKey,
    tenants: options.tenants,
    engine,
    network,
    store,
    fingerprint: createFingerprinter(),
    counters,
    faults: currentFaults,
    random,
    bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024,
    logger: options.logger,
    admin: options.admin === false ? undefined : handles,
  });
  return { app, ...handles };
}

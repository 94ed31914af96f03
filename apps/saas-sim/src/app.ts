import { CTP_EVENTS, SAAS_ENDPOINT_BY_EVENT, SAAS_READ_ENDPOINTS } from '@ctp/core/lifecycle';
import type { Logger } from '@ctp/core/logging';
import { healthRoutes } from '@ctp/core/runtime';
import { httpTracing } from '@ctp/core/tracing';
import { Hono } from 'hono';
import type { Random } from './clock.ts';
import type { Counters } from './counters.ts';
import { errorResponse, handleError, SimError } from './errors.ts';
import type { Faults } from './faults.ts';
import { requireCaller } from './http/caller.ts';
import { countRequests } from './http/count.ts';
import type { SimEnv } from './http/env.ts';
import { faultGate } from './http/fault-gate.ts';
import { noteRequestId } from './http/request-id.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { Network } from './network.ts';
import { adminRoutes } from './routes/admin.ts';
import { operationRoutes } from './routes/operations.ts';
import { readRoutes } from './routes/reads.ts';
import type { Simulator } from './simulator.ts';
import type { TraceEngine } from './traces.ts';

export interface SimulatorAppDeps {
  readonly apiKey: string;
  readonly tenants: readonly string[];
  readonly engine: TraceEngine;
  readonly network: Network;
  readonly store: IdempotencyStore;
  readonly fingerprint: (method: string, path: string, body: unknown) => string;
  readonly counters: Counters;
  readonly faults: () => Faults;
  readonly random: Random;
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
  /** The admin handles, or undefined to leave `/__sim` unmounted. */
  readonly admin: Omit<Simulator, 'app' | 'close'> | undefined;
}

/** The contract's eight paths: the only ones behind the API key, the counters and the faults. */
export const CONTRACT_PATHS: readonly string[] = [
  ...CTP_EVENTS.map((event) => SAAS_ENDPOINT_BY_EVENT[event].path),
  SAAS_READ_ENDPOINTS.status.path,
  SAAS_READ_ENDPOINTS.getData.path,
];

/**
 * The HTTP face of the simulator. Contract middleware is attached per contract path, not with
 * a `*` pattern, so `/healthz` and `/__sim/*` stay outside the API key, counters and faults.
 * Order per request: count (outermost, sees the final status) → 401 → X-Request-Id note →
 * latency, 429, 5xx faults → the endpoint.
 */
export function createSimulatorApp(deps: SimulatorAppDeps): Hono {
  const app = new Hono();
  app.onError(handleError(deps.logger));
  app.notFound((c) => errorResponse(c, new SimError('NOT_FOUND', 'no such endpoint')));
  // Continues the caller's `traceparent`: the SaaS call's span in the operation's trace.
  const traced = httpTracing();
  if (traced) app.use(traced);
  app.route('/', healthRoutes([]));
  app.route('/', contractRoutes(deps));
  if (deps.admin !== undefined) app.route('/', adminRoutes(deps.admin));
  return app;
}

function contractRoutes(deps: SimulatorAppDeps): Hono<SimEnv> {
  const contract = new Hono<SimEnv>();
  const caller = requireCaller({
    apiKey: deps.apiKey,
    tenants: new Set(deps.tenants),
    counters: deps.counters,
  });
  const requestId = noteRequestId(deps.counters);
  const gate = faultGate(deps.faults, deps.random);
  for (const path of CONTRACT_PATHS) {
    contract.use(path, countRequests(path, deps.counters, deps.logger), caller, requestId, gate);
  }
  contract.route('/', operationRoutes(deps));
  contract.route('/', readRoutes(deps));
  return contract;
}

import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per process, made here: the process's default metrics (CPU, memory, event loop
 * lag, GC, handles) under their standard names, so stock dashboards work, and every series
 * labelled with the service. Our own metrics are added to it by the `create*Metrics` factories,
 * each app taking only the families it has, so a family it does not have is absent from its
 * `/metrics` rather than a misleading zero. Not prom-client's global registry: tests build
 * several apps in one process.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export type { Registry } from 'prom-client';

/** Latency buckets for HTTP answers and SaaS calls, in seconds. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

import { Histogram, type Registry } from 'prom-client';

export interface ResolvedTrace {
  readonly event: string;
  readonly status: 'SUCCESS' | 'FAILED';
  readonly createdAt: Date;
  readonly resolvedAt: Date;
}

export interface TraceMetrics {
  readonly resolution: Histogram<'event' | 'status'>;
  observe(trace: ResolvedTrace): void;
}

/** From the SaaS accepting a request (trace created) to its outcome being stored (resolved). */
export function createTraceMetrics(registry: Registry): TraceMetrics {
  const resolution = new Histogram({
    name: 'ctp_trace_resolution_seconds',
    help: 'Request trace resolution time (created to SUCCESS/FAILED), by CTP event and outcome',
    labelNames: ['event', 'status'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800],
    registers: [registry],
  });
  return {
    resolution,
    observe: (trace) =>
      resolution.observe(
        { event: trace.event, status: trace.status },
        Math.max(0, trace.resolvedAt.getTime() - trace.createdAt.getTime()) / 1000,
      ),
  };
}

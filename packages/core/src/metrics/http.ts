import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_S } from './registry.ts';

export interface HttpMetrics {
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requestDuration: new Histogram({
      name: 'ctp_http_request_duration_seconds',
      help: 'HTTP answer latency, by method, matched route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS_S,
      registers: [registry],
    }),
  };
}

/**
 * The route label: the pattern of the handler the path matched (`/v1/entities/:entityId`), never
 * the path itself, as ids in a label would make one series per customer. Middleware (`app.use`,
 * method ALL) is skipped, so a request refused by authentication still counts under its route;
 * a path no handler matches is `unmatched`.
 */
function routeOf(c: Context): string {
  const handlers = matchedRoutes(c).filter((route) => route.method !== 'ALL');
  return handlers.at(-1)?.path ?? 'unmatched';
}

/** Observes every answer: latency by method, route pattern and final status. */
export function httpMetricsMiddleware(metrics: HttpMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = routeOf(c);
      metrics.requestDuration.observe(
        { method: c.req.method, route, status: String(c.res.status) },
        (performance.now() - started) / 1000,
      );
    }
  };
}

/**
 * `GET /metrics` in Prometheus's text format. It holds counts, latencies and process figures
 * only: no label carries a tenant's data, an id, a key or a card number.
 */
export function metricsRoutes(registry: Registry): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    const body = await registry.metrics();
    return c.body(body, 200, { 'Content-Type': registry.contentType });
  });
  return app;
}

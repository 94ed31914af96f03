import type { MiddlewareHandler } from 'hono';

/**
 * What `startTracing` set up in this process, or null when tracing is off. The modules that only
 * tracing needs (the SDK, `@hono/otel`) are loaded by `startTracing` and reached through here, so
 * a process without tracing never loads them.
 */
interface TracingState {
  readonly shutdown: () => Promise<void>;
  readonly httpMiddleware: () => MiddlewareHandler;
}

let state: TracingState | null = null;

export function tracingEnabled(): boolean {
  return state !== null;
}

export function setTracingState(next: TracingState): void {
  state = next;
}

/**
 * `@hono/otel`'s server span (continuing an incoming `traceparent`; no header recorded), or null
 * when tracing is off: the app then adds no middleware at all.
 */
export function httpTracing(): MiddlewareHandler | null {
  return state?.httpMiddleware() ?? null;
}

/** Exports the spans still buffered and stops the SDK; nothing when tracing is off. */
export async function stopTracing(): Promise<void> {
  const current = state;
  state = null;
  await current?.shutdown();
}

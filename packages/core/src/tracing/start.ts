import { register } from 'node:module';
import { type TracingConfig, tracingConfigOrExit } from '../config/tracing.ts';
import { setTracingState } from './state.ts';

/**
 * Starts OpenTelemetry in this process if `OTEL_EXPORTER_OTLP_ENDPOINT` is set; otherwise returns
 * without loading any of the SDK (tracing off costs nothing). Runs before the application's
 * modules load (`node --import ./src/tracing.ts src/main.ts`, each app's `src/tracing.ts`): the
 * `pg` and `ioredis` instrumentations patch those modules as they are imported, which for ES
 * modules needs the `import-in-the-middle` loader hook registered first. The hook wraps only the
 * modules an instrumentation asked for (its message channel tells the loader which).
 */
export async function startTracing(
  serviceName: string,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  const config: TracingConfig = tracingConfigOrExit(env);
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) return;
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startSdk } = await import('./sdk.ts');
  const shutdown = startSdk({
    serviceName: config.OTEL_SERVICE_NAME ?? serviceName,
    ...(config.OTEL_BSP_SCHEDULE_DELAY === undefined
      ? {}
      : { exportDelayMs: config.OTEL_BSP_SCHEDULE_DELAY }),
  });
  const { httpInstrumentationMiddleware } = await import('@hono/otel');
  setTracingState({
    shutdown,
    httpMiddleware: () => httpInstrumentationMiddleware({ captureActiveRequests: false }),
  });
  await waitForAllMessagesAcknowledged();
}

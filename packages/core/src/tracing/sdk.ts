import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { ScrubbingSpanProcessor } from './scrubbing-processor.ts';

/**
 * The SDK, loaded only when tracing is on. Spans go over OTLP/HTTP (JSON) to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, batched, after the scrubbing processor. Instrumented: PostgreSQL (`pg`: one span
 * per statement, without its parameters), Redis (`ioredis`: the command name, and no arguments),
 * outgoing HTTP (`undici`, Node's `fetch`: the SaaS calls and webhook deliveries, which carry
 * `traceparent` onwards). The HTTP servers are traced by `@hono/otel` and the queues by
 * `bullmq-otel`, where the apps build them.
 */
export function startSdk(options: { serviceName: string; exportDelayMs?: number }): () => Promise<void> {
  const exporter = new OTLPTraceExporter();
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    // Traces only: metrics are Prometheus's (`/metrics`), logs are pino's lines on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    // Scrubbing first: the batch processor exports what the spans hold when they end.
    spanProcessors: [
      new ScrubbingSpanProcessor(),
      new BatchSpanProcessor({
        exporter,
        ...(options.exportDelayMs === undefined ? {} : { scheduledDelayMillis: options.exportDelayMs }),
      }),
    ],
    instrumentations: [
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
      // A command's arguments may be a job's data or a notification: never recorded.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  return () => sdk.shutdown();
}

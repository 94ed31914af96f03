// Preloaded (`node --import ./src/tracing.ts src/main.ts`): OpenTelemetry must be in place before
// the modules it instruments load. Nothing is loaded unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
import { startTracing } from '@ctp/core/tracing/start';

await startTracing('ctp-saas-sim');

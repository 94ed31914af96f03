import { z } from 'zod';

/**
 * Tracing's variables, read by `startTracing` before the application loads (so apart from the
 * full schema, which includes them). Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
 */
export const tracingEnvSchema = z.object({
  /** OTLP/HTTP collector base URL (spans go to `<url>/v1/traces`); unset: no tracing. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('an http or https URL'),
  /** Milliseconds between span exports (OpenTelemetry's variable; default 5,000). */
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(10).max(600_000).optional(),
  /** Overrides the process's service name (`ctp-api`, `ctp-worker`, ...). */
  OTEL_SERVICE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/)
    .optional(),
  /** A tracing UI's page of one trace, with `{traceId}` (Jaeger: `http://localhost:16686/trace/{traceId}`). */
  TRACING_UI_URL: z
    .url({ protocol: /^https?$/ })
    .refine((value) => value.includes('{traceId}'), { message: 'must contain {traceId}' })
    .optional(),
});

export type TracingConfig = z.infer<typeof tracingEnvSchema>;

/** Parses tracing's variables or, like `loadConfigOrExit`, names the bad one and exits 78. */
export function tracingConfigOrExit(env: Record<string, string | undefined>): TracingConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = tracingEnvSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  - ${String(issue.path[0])}: ${issue.message}`);
  process.stderr.write(`invalid configuration:\n${lines.join('\n')}\n`);
  process.exit(78);
}

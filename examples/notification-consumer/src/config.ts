import { hostname } from 'node:os';
import { ConfigError, envSchema } from '@ctp/core/config';
import { z } from 'zod';

/**
 * The platform's variables this consumer shares with the apps (REDIS_URL, NOTIFICATION_STREAM,
 * LOG_LEVEL: same schema, same defaults), plus its own.
 */
const schema = envSchema.pick({ REDIS_URL: true, NOTIFICATION_STREAM: true, LOG_LEVEL: true }).extend({
  /** One group per downstream system: all its replicas share the work. */
  CONSUMER_GROUP: z.string().min(1).default('example-downstream'),
  /** Unique per replica and stable across its restarts (a pod name is a good one). */
  CONSUMER_NAME: z.string().min(1).default(hostname()),
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
});

export type ExampleConfig = z.infer<typeof schema>;

export function readConfig(env: Record<string, string | undefined> = process.env): ExampleConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(environment)'),
      message: issue.message,
    })),
  );
}

import { ConfigError, envSchema } from '@ctp/core/config';

/** Only what the CLI needs, read through the apps' schema (same defaults, same messages). */
const cliEnvSchema = envSchema.pick({
  REDIS_URL: true,
  NOTIFICATION_STREAM: true,
  NOTIFICATION_STREAM_MAXLEN: true,
  LOG_LEVEL: true,
});

export type CliEnv = ReturnType<typeof cliEnvSchema.parse>;

/**
 * Not `loadConfig`: that one refuses to run with NODE_ENV=production while the apps' secrets
 * have their defaults, and the CLI has no use for those secrets. Empty strings count as unset,
 * as in `loadConfig`; values are never echoed.
 */
export function readCliEnv(env: Readonly<Record<string, string | undefined>>): CliEnv {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = cliEnvSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(environment)'),
      message: issue.message,
    })),
  );
}

/** The URL without its password, for messages. */
export function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

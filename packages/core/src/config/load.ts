import type { z } from 'zod';
import { type Config, DEV_DEFAULTS, envSchema } from './schema.ts';

/** A configuration problem; its message names every bad variable and says what it must be. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variables: readonly string[];

  constructor(problems: readonly { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`);
    this.variables = problems.map((p) => p.variable);
  }
}

const DEFAULT_SECRET_VARIABLES = Object.keys(DEV_DEFAULTS) as (keyof typeof DEV_DEFAULTS)[];

/**
 * Parses the environment. Empty strings count as unset, as shells and compose files often
 * pass them. Values are never echoed back in errors: a secret must not reach a log.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map(toProblem));
  refuseDefaultSecretsInProduction(parsed.data, present);
  return parsed.data;
}

function toProblem(issue: z.core.$ZodIssue): { variable: string; message: string } {
  return { variable: String(issue.path[0] ?? '(environment)'), message: issue.message };
}

function refuseDefaultSecretsInProduction(config: Config, present: Record<string, string | undefined>): void {
  if (config.NODE_ENV !== 'production') return;
  const defaulted = DEFAULT_SECRET_VARIABLES.filter(
    (name) => present[name] === undefined || present[name] === DEV_DEFAULTS[name],
  );
  if (defaulted.length > 0) {
    throw new ConfigError(
      defaulted.map((variable) => ({
        variable,
        message: 'must be set to a real secret when NODE_ENV=production',
      })),
    );
  }
}

/** For process entry points: parse or print the problem and exit with status 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

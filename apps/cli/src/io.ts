/** What a command may touch, passed in so tests run commands in-process. */
export interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: a long-running command (tail) stops and returns. */
  readonly signal: AbortSignal;
}

/** Exit statuses from sysexits.h, as the apps use (78 for configuration). */
export const EXIT = { ok: 0, failure: 1, usage: 64, unavailable: 69, config: 78 } as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

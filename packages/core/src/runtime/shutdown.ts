import type { Logger } from 'pino';
import { stopTracing } from '../tracing/state.ts';

export type ShutdownStep = { readonly name: string; readonly run: () => Promise<unknown> };

/**
 * Graceful shutdown on SIGTERM/SIGINT: run the steps in order (stop taking work first, close
 * connections last), each bounded by the grace period so a hung dependency cannot keep the
 * process alive for ever, then exit. A second signal exits at once.
 */
export function handleShutdown(logger: Logger, steps: readonly ShutdownStep[], graceMs = 25_000): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    let code = 0;
    for (const step of steps) {
      try {
        await withTimeout(step.run(), graceMs, step.name);
      } catch (error) {
        code = 1;
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    // Last: the spans of the steps above are exported too.
    await withTimeout(stopTracing(), graceMs, 'tracing').catch((error: unknown) =>
      logger.warn({ err: error }, 'tracing did not flush'),
    );
    logger.info('stopped');
    process.exit(code);
  };
  process.once('SIGTERM', (s) => void stop(s));
  process.once('SIGINT', (s) => void stop(s));
}

async function withTimeout<T>(work: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

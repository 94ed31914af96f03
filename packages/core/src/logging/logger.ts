import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { logTraceFields } from '../tracing/context.ts';
import { scrubText, scrubValue } from './redaction.ts';

export type { Logger } from 'pino';

export interface LoggerFactoryOptions {
  /** Service name, bound to every line (`api`, `worker`, ...). */
  readonly name: string;
  readonly level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to capture lines. */
  readonly destination?: DestinationStream;
  /** Context bound to every line (tenant, operationId, ...). */
  readonly base?: Record<string, unknown>;
}

/**
 * The one logger factory. Card data and secrets are removed at the logger, not at each call
 * site, in three layers:
 * 1. every object logged is deep-copied with secret keys (pan, accountNumber, authorization,
 *    apiKey, ...) redacted at any depth and PAN-looking digit runs masked inside strings;
 * 2. the message string is scrubbed the same way;
 * 3. the finished JSON line is scrubbed once more, which catches what reaches it by any
 *    other path (serializers, bindings, pino internals).
 */
// Synchronous writes: a line logged just before a crash is not lost in a buffer.
export function createLogger(options: LoggerFactoryOptions): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.name, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    // A line logged inside a span names it, so the tracing UI and the logs join (nothing when off).
    mixin: logTraceFields,
    // Our scrubber handles errors itself, with their message and stack scrubbed.
    serializers: { err: (e: unknown) => scrubValue(e), error: (e: unknown) => scrubValue(e) },
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (bindings) => scrubValue(bindings) as Record<string, unknown>,
      log: (object) => scrubValue(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  return pino(pinoOptions, scrubbingStream(options.destination ?? pino.destination({ dest: 1, sync: true })));
}

/** Wraps a destination so that each finished line is scrubbed before it is written. */
function scrubbingStream(destination: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      destination.write(scrubText(line, { json: true }));
    },
  };
}

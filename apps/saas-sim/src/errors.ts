import { maskPansIn } from '@ctp/core/cards';
import type { SAAS_ERROR_CODES } from '@ctp/core/contracts';
import type { Logger } from '@ctp/core/logging';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * The simulator's one error vocabulary: a `SimError` carries a contract error code; the table
 * below maps codes to HTTP statuses; `errorResponse` is the only place that writes the
 * contract's error body. No route builds an error answer by hand.
 */

/** The contract's codes, plus NOT_FOUND for a path that is no endpoint at all. */
export type SimErrorCode = (typeof SAAS_ERROR_CODES)[number] | 'NOT_FOUND';

export const STATUS_BY_CODE = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  CONSUMER_NOT_FOUND: 404,
  PAYMENT_INSTRUMENT_NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const satisfies Record<SimErrorCode, ContentfulStatusCode>;

/** A field-level problem of a 400: names the field, never repeats its value. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export interface SimErrorOptions {
  readonly details?: readonly FieldProblem[];
  /** Overrides the code's usual status: 413 for a body too large, 502/504 for gateway faults. */
  readonly status?: ContentfulStatusCode;
  readonly headers?: Readonly<Record<string, string>>;
}

export class SimError extends Error {
  override readonly name = 'SimError';
  readonly code: SimErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details: readonly FieldProblem[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: SimErrorCode, message: string, options: SimErrorOptions = {}) {
    super(message);
    this.code = code;
    this.status = options.status ?? STATUS_BY_CODE[code];
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: FieldProblem[] };
}

export function errorBody(error: SimError): ErrorBody {
  // Messages and field names pass the PAN mask once more: whatever a caller put into a key
  // name, no card number leaves in an error answer.
  const details = error.details?.map((d) => ({ field: maskPansIn(d.field), message: maskPansIn(d.message) }));
  return {
    error: {
      code: error.code,
      message: maskPansIn(error.message),
      ...(details === undefined ? {} : { details }),
    },
  };
}

export function errorResponse(c: Context, error: SimError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(errorBody(error), error.status);
}

/** The app's `onError`: contract errors as they are, anything else as 500 INTERNAL, logged. */
export function handleError(logger: Logger) {
  return (error: Error, c: Context): Response => {
    if (error instanceof SimError) return errorResponse(c, error);
    logger.error({ err: error, method: c.req.method, path: c.req.path }, 'unexpected error');
    return errorResponse(c, new SimError('INTERNAL', 'internal error'));
  };
}

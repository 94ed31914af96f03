/**
 * The platform contract's error vocabulary, mapped to HTTP statuses in one table. Use cases
 * throw (or return) a `DomainError`; each app has a single error handler that turns it, a zod
 * error or anything unknown into the contract's body `{ error: { code, message, details? } }`.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_STATE: 409,
  OPERATION_IN_PROGRESS: 409,
  /** A write collided with another made at the same time (a unique constraint no use case maps). */
  CONFLICT: 409,
  /** The tenant's CTP settings do not let this entity enrol (mode `OFF`, or not on the allow-list). */
  CTP_NOT_ENABLED: 409,
  /** The card is `BLOCKED` or `CLOSED` in the platform's records: it may not enrol, or be replaced once closed. */
  CARD_NOT_ACTIVE: 409,
  /** The customer is `CLOSED` in the platform's records: none of its cards may enrol. */
  CUSTOMER_NOT_ACTIVE: 409,
  /** A card replacement's `newKitNo` is a card the tenant already has. */
  KIT_ALREADY_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);

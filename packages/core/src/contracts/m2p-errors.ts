import { type ErrorCode, notFound } from '../errors/domain-error.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import type { CtpStatus } from '../lifecycle/statuses.ts';
import type { M2pException } from './m2p.ts';

/**
 * Our code as an M2P `errorCode`: prefixed `CTP_` (once), so that none can be mistaken for a `Y`
 * code M2P uses for something else.
 */
const ctpErrorCode = (code: string) => (code.startsWith('CTP_') ? code : `CTP_${code}`);

/** Each row's `shortMessage`, by the kind of error it answers. */
const SHORT_MESSAGES = {
  VALIDATION_FAILED: 'Invalid request',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'TENANT does not match the credentials',
  /** The entity does not exist, or is not on Click to Pay (M2P answers both with Y109). */
  NOT_A_REGISTERED_CUSTOMER: 'Not a registered Customer',
  KIT_NOT_FOUND: 'Kit is not assigned to the entity',
  /** M2P's own message; its sample carries no code. */
  TRACE_NOT_FOUND: 'Request Trace ID Not Found',
  NOT_FOUND: 'Not found',
  ALREADY_REGISTERED: 'Customer is already registered on Click to Pay',
  ENTITY_NOT_ACTIVE: 'Customer is not ACTIVE on Click to Pay',
  KIT_ALREADY_ENROLLED: 'Kit is already enrolled in Click to Pay',
  KIT_NOT_ACTIVE: 'Kit is not ACTIVE on Click to Pay',
  INVALID_STATE: 'Not allowed in the current CTP status',
  OPERATION_IN_PROGRESS: 'Another CTP request for this customer is in progress',
  CTP_NOT_ENABLED: 'Click to Pay is not enabled for this customer',
  CUSTOMER_NOT_ACTIVE: 'Customer is not active',
  CARD_NOT_ACTIVE: 'Card is not active',
  KIT_ALREADY_EXISTS: 'Kit already exists',
  CONFLICT: 'Changed concurrently; nothing was done',
  PAYLOAD_TOO_LARGE: 'Request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'Request body must be application/json',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency-Key was used for another request',
  RATE_LIMITED: 'Too many requests',
  INTERNAL: 'Internal error',
  UNAVAILABLE: 'Service unavailable; nothing was done',
} as const;

export type M2pErrorKind = keyof typeof SHORT_MESSAGES;

/** M2P's own code where it is known (`Y109` "Not a registered Customer", from its API library). */
const M2P_CODES: Partial<Record<M2pErrorKind, string>> = { NOT_A_REGISTERED_CUSTOMER: 'Y109' };

/**
 * The one table from our error codes to M2P-style `exception`s: M2P's own code where it is known
 * (`M2P_CODES`), ours otherwise (`ctpErrorCode` of the kind). The HTTP status is the v1 route's
 * (`ERROR_STATUS`); only the body differs.
 */
export const M2P_ERRORS = Object.fromEntries(
  Object.entries(SHORT_MESSAGES).map(([kind, shortMessage]) => [
    kind,
    { errorCode: M2P_CODES[kind as M2pErrorKind] ?? ctpErrorCode(kind), shortMessage },
  ]),
) as Record<M2pErrorKind, { readonly errorCode: string; readonly shortMessage: string }>;

/** What our error says, as the api's error handler sees it. */
export interface OurError {
  readonly code: ErrorCode | (string & {});
  readonly message: string;
  readonly details?: unknown;
}

const NOT_FOUND_KINDS = new Map<string, M2pErrorKind>([
  [notFound('entity').message, 'NOT_A_REGISTERED_CUSTOMER'],
  [notFound('kit').message, 'KIT_NOT_FOUND'],
  [notFound('request trace').message, 'TRACE_NOT_FOUND'],
]);

const OFF_CTP: readonly CtpStatus[] = ['UNREGISTERED', 'REMOVED'];
const ON_CTP: readonly CtpStatus[] = ['ACTIVE', 'DISABLED'];

/**
 * Which row an `INVALID_STATE` is, from the statuses the lifecycle refused (its `details`).
 * This names the refusal for the client; the lifecycle alone decided it.
 */
function invalidStateKind(details: unknown): M2pErrorKind {
  const { event, ctpEntityStatus, ctpKitStatus } = (details ?? {}) as {
    event?: CtpEvent;
    ctpEntityStatus?: CtpStatus;
    ctpKitStatus?: CtpStatus;
  };
  if (ctpEntityStatus === undefined) return 'INVALID_STATE';
  if (event === 'CTP_REGISTER_ENTITY_AND_KIT') {
    if (ON_CTP.includes(ctpEntityStatus)) return 'ALREADY_REGISTERED';
    if (ctpKitStatus !== undefined && ON_CTP.includes(ctpKitStatus)) return 'KIT_ALREADY_ENROLLED';
    return 'INVALID_STATE';
  }
  if (OFF_CTP.includes(ctpEntityStatus)) return 'NOT_A_REGISTERED_CUSTOMER';
  if (event === 'CTP_ADD_KIT') {
    if (ctpEntityStatus !== 'ACTIVE') return 'ENTITY_NOT_ACTIVE';
    if (ctpKitStatus !== undefined && ON_CTP.includes(ctpKitStatus)) return 'KIT_ALREADY_ENROLLED';
    return 'INVALID_STATE';
  }
  if (event === 'CTP_REMOVE_KIT') return 'KIT_NOT_ACTIVE';
  if (event === 'CTP_REMOVE_ENTITY') return 'ENTITY_NOT_ACTIVE';
  return 'INVALID_STATE';
}

const isKind = (code: string): code is M2pErrorKind => Object.hasOwn(SHORT_MESSAGES, code);

/** The table's row for our error; `null` for a code the table has no row for yet. */
export function m2pErrorKind(error: OurError): M2pErrorKind | null {
  switch (error.code) {
    case 'NOT_FOUND':
      return NOT_FOUND_KINDS.get(error.message) ?? 'NOT_FOUND';
    case 'INVALID_STATE':
      return invalidStateKind(error.details);
    default:
      return isKind(error.code) ? error.code : null;
  }
}

/**
 * M2P's `exception` for one of our errors. `detailMessage` says what was wrong: the first bad
 * field of a refused body (M2P reports one problem at a time, in its validation order), our
 * message otherwise; M2P's own wording where M2P documents one.
 */
export function m2pExceptionOf(error: OurError): M2pException {
  const kind = m2pErrorKind(error);
  // A code added to our vocabulary before it has a row here still answers in M2P's shape.
  const { errorCode, shortMessage } =
    kind === null ? { errorCode: ctpErrorCode(error.code), shortMessage: error.message } : M2P_ERRORS[kind];
  let detailMessage: string = error.message;
  if (kind === 'NOT_A_REGISTERED_CUSTOMER' || kind === 'TRACE_NOT_FOUND') detailMessage = shortMessage;
  if (error.code === 'VALIDATION_FAILED' && Array.isArray(error.details)) {
    const [first] = error.details as { field?: unknown; message?: unknown }[];
    if (first !== undefined) detailMessage = `${String(first.field)} ${String(first.message)}`;
  }
  return { detailMessage, shortMessage, errorCode, languageCode: 'en' };
}

import { cleanInbound, cleanInboundText } from '../text/inbound.ts';

/**
 * Every failure of a SaaS call, classified once, here:
 * - `retryable`: 5xx, 429 (with its `Retry-After`), a timeout, a connection error, an answer we
 *   cannot read. Retried by BullMQ with the same `Idempotency-Key`, so the SaaS never starts
 *   the same work twice.
 * - `permanent`: any other 4xx, or a body of ours the contract's schema refuses. Retrying cannot help.
 * Messages carry codes, statuses and field paths only, never a value we sent, so no PAN can
 * end up in an error. The SaaS's own text arrives cleaned by the client (`text/inbound.ts`);
 * the same cleaning runs once more here for every error, whatever built it, because its message
 * and details are stored (`error_message`) and logged.
 */
export type SaasErrorKind = 'retryable' | 'permanent';

export interface SaasErrorInit {
  readonly kind: SaasErrorKind;
  readonly code: string;
  readonly message: string;
  readonly endpoint: string;
  readonly requestId: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly details?: readonly unknown[];
}

export class SaasError extends Error {
  override readonly name = 'SaasError';
  readonly kind: SaasErrorKind;
  readonly code: string;
  readonly endpoint: string;
  readonly requestId: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly details: readonly unknown[] | undefined;

  constructor(init: SaasErrorInit) {
    super(
      cleanInboundText(
        `${init.endpoint}: ${init.status ?? ''}${init.status ? ' ' : ''}${init.code}: ${init.message}`,
      ),
    );
    this.kind = init.kind;
    this.code = cleanInboundText(init.code);
    this.endpoint = init.endpoint;
    this.requestId = init.requestId;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.details = init.details === undefined ? undefined : cleanInbound(init.details);
  }

  get retryable(): boolean {
    return this.kind === 'retryable';
  }
}

/** 5xx and 429 are transient by the contract; 408 (a proxy's timeout) is too. */
export function kindOfStatus(status: number): SaasErrorKind {
  return status >= 500 || status === 429 || status === 408 ? 'retryable' : 'permanent';
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^[0-9]+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Undici and Node error codes of a connection that failed or broke: transient. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

export function isConnectionError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error &&
    'code' in error &&
    typeof error.code === 'string' &&
    CONNECTION_CODES.has(error.code)
  );
}

export function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

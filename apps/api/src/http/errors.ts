import { maskPansIn } from '@ctp/core/cards';
import type { FieldProblem } from '@ctp/core/contracts';
import {
  DomainError,
  ERROR_STATUS,
  type ErrorBody,
  type ErrorCode,
  errorBody,
  uniqueViolationError,
  violatedUniqueConstraint,
} from '@ctp/core/errors';
import { ConnectionException, DriverException } from '@mikro-orm/core';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { ApiEnv } from './env.ts';

/**
 * The api's one mapping from errors to the contract's body `{ error: { code, message, details? } }`.
 * No route builds an error answer: it throws a `DomainError` (or lets validation fail) and
 * `handleError` answers. Unknown errors answer a bare 500 and are logged with the request id.
 */

/** Where a bad value was: the body, a path parameter, a header, the query. */
type Target = string;

const TARGET_NAMES: Record<Target, string> = { json: 'body', form: 'body', param: 'path', query: 'query' };

/** `[{ field, message }]` for each zod issue; an unknown key is one problem per key. */
export function fieldProblems(issues: readonly z.core.$ZodIssue[], target: Target = 'json'): FieldProblem[] {
  const root = TARGET_NAMES[target] ?? target;
  const field = (path: readonly PropertyKey[]) =>
    path.length === 0 ? root : path.map((part) => String(part)).join('.');
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: field([...issue.path, key]), message: 'is not a known field' }))
      : [{ field: field(issue.path), message: messageOf(issue) }],
  );
}

function messageOf(issue: z.core.$ZodIssue): string {
  // zod says "Invalid input: expected string, received undefined" for a missing field.
  return issue.code === 'invalid_type' && issue.message.endsWith('received undefined')
    ? 'is required'
    : issue.message;
}

/** The error a failed validation of client input throws. */
export function validationFailed(issues: readonly z.core.$ZodIssue[], target?: Target): DomainError {
  return new DomainError('VALIDATION_FAILED', 'request is not valid', fieldProblems(issues, target));
}

/**
 * The `defaultHook` of every router (`createRouter`): a failed validation of params, headers,
 * query or body throws, so `handleError` answers it like every other error.
 */
export function validationHook(
  result: { readonly target: Target } & (
    | { readonly success: true }
    | { readonly success: false; readonly error: { readonly issues: readonly z.core.$ZodIssue[] } }
  ),
): void {
  if (!result.success) throw validationFailed(result.error.issues, result.target);
}

const CODE_BY_HTTP_STATUS = new Map<number, ErrorCode>(
  (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).reverse().map(([code, status]) => [status, code]),
);

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  UNAUTHORIZED: 'a valid API key is required (Authorization: Bearer <key>)',
  PAYLOAD_TOO_LARGE: 'request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'request body must be application/json',
  NOT_FOUND: 'not found',
  INTERNAL: 'internal error',
  UNAVAILABLE: 'a dependency is unavailable; nothing was done',
};

interface Problem {
  readonly status: ContentfulStatusCode;
  readonly body: ErrorBody;
}

function problem(code: ErrorCode, message?: string, details?: unknown): Problem {
  return { status: ERROR_STATUS[code], body: errorBody(code, message ?? MESSAGES[code] ?? code, details) };
}

function toProblem(error: unknown): Problem {
  if (error instanceof DomainError) return problem(error.code, error.message, error.details);
  if (error instanceof HTTPException) {
    // Hono's own: malformed JSON (400), body-limit (413), media type gate (415).
    if (error.status === 400) {
      return problem('VALIDATION_FAILED', 'request body is not valid JSON', [
        { field: 'body', message: 'is not valid JSON' },
      ]);
    }
    const code = CODE_BY_HTTP_STATUS.get(error.status);
    if (code !== undefined && error.status < 500) return problem(code);
  }
  // A unique violation no use case mapped: what its constraint means (409), never a 500.
  const constraint = violatedUniqueConstraint(error);
  if (constraint !== null) {
    const mapped = uniqueViolationError(constraint);
    return problem(mapped.code, mapped.message);
  }
  if (isDatabaseUnavailable(error)) return problem('UNAVAILABLE');
  return problem('INTERNAL');
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

/** What the pg driver says when a connection dies under a query (no SQLSTATE to go by). */
const CONNECTION_LOST =
  /connection terminated|connection error|client was closed|connection is closed|server closed the connection/i;

/**
 * SQLSTATEs after which nothing was written and a retry may succeed: 55P03 a lock wait past
 * `lock_timeout` (the entity is busy), 57014 a statement cancelled by `statement_timeout`.
 */
const BUSY = new Set(['55P03', '57014']);

/**
 * The database is down, unreachable, refusing connections or too busy to answer in time: 503, as
 * nothing was written and the client may retry. SQLSTATE class 08 is "connection exception";
 * 57P01–57P03 are a server shutting down or starting; 53300 is "too many connections".
 */
function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error instanceof ConnectionException) return true;
  if (error instanceof Error && CONNECTION_LOST.test(error.message)) return true;
  if (error instanceof DriverException) {
    const code = error.code ?? error.sqlState ?? '';
    if (
      UNREACHABLE.has(code) ||
      BUSY.has(code) ||
      code.startsWith('08') ||
      /^57P0[123]$/.test(code) ||
      code === '53300'
    )
      return true;
  }
  // A driver error wrapped by another layer: look at its cause (a few levels, no cycles).
  return (
    depth < 3 &&
    error instanceof Error &&
    error.cause !== undefined &&
    isDatabaseUnavailable(error.cause, depth + 1)
  );
}

/** The api's `onError`. */
export function handleError(error: Error, c: Context<ApiEnv>): Response {
  const { status, body } = toProblem(error);
  if (status >= 500) c.var.logger.error({ err: error, status }, 'request failed');
  else {
    // Collisions no use case foresaw are rare and worth a look: which constraint, which route.
    const constraint = violatedUniqueConstraint(error);
    if (constraint !== null)
      c.var.logger.warn(
        { status, code: body.error.code, constraint },
        'request refused by a unique constraint',
      );
  }
  if (status === 401) c.header('WWW-Authenticate', 'Bearer');
  if (status === 503) c.header('Retry-After', '5');
  // A last guard: no error answer carries a card number, whatever a message or field name holds.
  return c.body(maskPansIn(JSON.stringify(body)), status, { 'Content-Type': 'application/json' });
}

/** The api's `notFound`: an unknown route answers in the contract's body too. */
export function handleNotFound(c: Context<ApiEnv>): Response {
  const { status, body } = problem('NOT_FOUND', 'no such route');
  return c.json(body, status);
}

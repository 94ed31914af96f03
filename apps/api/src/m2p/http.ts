import type { ApiKeyAuthenticator } from '@ctp/core/auth';
import { maskPansIn } from '@ctp/core/cards';
import { M2P_BASE_PATH, m2pErrorAnswerSchema, m2pExceptionOf, type OurError } from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import type { Orm } from '@ctp/db';
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiEnv } from '../http/env.ts';
import { handleError, handleNotFound } from '../http/errors.ts';
import { requireApiKey } from '../http/middleware.ts';
import { documentedErrors } from '../http/router.ts';

/** Paths of the M2P-compatible API: answered in M2P's envelope, errors included. */
export const M2P_PATHS = `${M2P_BASE_PATH}/*`;

export const isM2pPath = (path: string) => path.startsWith(`${M2P_BASE_PATH}/`) || path === M2P_BASE_PATH;

/**
 * The same Bearer keys as `/v1`; M2P's `TENANT` header, when sent, must name the key's tenant
 * (403 otherwise), as `X-TENANT-ID` must on `/v1` (it is checked here too).
 */
export function requireM2pApiKey(
  em: Orm['em'],
  authenticator: ApiKeyAuthenticator,
): MiddlewareHandler<ApiEnv> {
  const apiKey = requireApiKey({ em, authenticator, exempt: () => false });
  return (c, next) =>
    apiKey(c, async () => {
      const claimed = c.req.header('tenant');
      if (claimed !== undefined && claimed !== c.var.tenant) {
        throw new DomainError('FORBIDDEN', 'TENANT does not match the API key');
      }
      await next();
    });
}

/**
 * M2P's error envelope around what the api's one error handler decided: the same status,
 * headers (`WWW-Authenticate`, `Retry-After`), logging and masking as every other route, so
 * the classification of errors stays in one place and only the body is M2P's.
 */
async function inEnvelope(answer: Response, c: Context<ApiEnv>): Promise<Response> {
  const { error } = (await answer.json()) as { error: OurError };
  const body = { result: null, exception: m2pExceptionOf(error), pagination: null };
  // `WWW-Authenticate` and `Retry-After` are on the context already (`handleError` set them).
  return c.body(maskPansIn(JSON.stringify(body)), answer.status as ContentfulStatusCode, {
    'Content-Type': 'application/json',
  });
}

export function handleM2pError(error: Error, c: Context<ApiEnv>): Promise<Response> {
  return inEnvelope(handleError(error, c), c);
}

export function handleM2pNotFound(c: Context<ApiEnv>): Promise<Response> {
  return inEnvelope(handleNotFound(c), c);
}

const M2P_ERROR_DESCRIPTIONS = {
  400: "CTP_VALIDATION_FAILED: `detailMessage` names the first bad field, in M2P's validation order",
  401: 'CTP_UNAUTHORIZED: no API key, or not a live one',
  403: "CTP_FORBIDDEN: `TENANT` (or `X-TENANT-ID`) is not the API key's tenant",
  404: 'Y109 "Not a registered Customer" (unknown entity, or not on Click to Pay), CTP_KIT_NOT_FOUND, CTP_TRACE_NOT_FOUND ("Request Trace ID Not Found")',
  409: 'Y109 (not on Click to Pay), CTP_ALREADY_REGISTERED, CTP_ENTITY_NOT_ACTIVE, CTP_KIT_ALREADY_ENROLLED, CTP_KIT_NOT_ACTIVE, CTP_INVALID_STATE, CTP_OPERATION_IN_PROGRESS, CTP_CONFLICT',
  413: 'CTP_PAYLOAD_TOO_LARGE: body over 64 KiB',
  415: 'CTP_UNSUPPORTED_MEDIA_TYPE: body is not application/json',
  422: 'CTP_IDEMPOTENCY_KEY_REUSED',
  429: 'CTP_RATE_LIMITED',
  503: 'CTP_UNAVAILABLE: a dependency is down; nothing was accepted',
} as const;

/** The documented error answers of an M2P route: M2P's envelope with `result: null`. */
export const m2pErrorResponses = documentedErrors(M2P_ERROR_DESCRIPTIONS, m2pErrorAnswerSchema);

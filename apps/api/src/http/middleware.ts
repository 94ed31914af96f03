import { randomUUID } from 'node:crypto';
import type { ApiKeyAuthenticator } from '@ctp/core/auth';
import { findPans } from '@ctp/core/cards';
import { DomainError } from '@ctp/core/errors';
import type { Logger } from '@ctp/core/logging';
import type { Orm } from '@ctp/db';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ApiEnv } from './env.ts';

const REQUEST_ID = /^[A-Za-z0-9_=-]{1,128}$/;

/**
 * Request id, request logger and one access log line per request. A client's `X-Request-Id` is
 * kept when it is a plain token (so ids travel across systems) and not a card number (it is
 * echoed in the answer and logged); otherwise a UUID replaces it.
 */
export function requestContext(logger: Logger): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const started = performance.now();
    const offered = c.req.header('x-request-id');
    const requestId =
      offered !== undefined && REQUEST_ID.test(offered) && findPans(offered).length === 0
        ? offered
        : randomUUID();
    c.set('requestId', requestId);
    c.set('logger', logger.child({ requestId }));
    c.header('X-Request-Id', requestId);
    await next();
    c.var.logger.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  };
}

/**
 * 413 for a body over `maxBytes`, by its Content-Length before reading anything, or by counting
 * as it streams in when it has none (chunked).
 *
 * Only a chunked body goes through Hono's `bodyLimit`. Its first step reads `c.req.raw.body`,
 * which makes `@hono/node-server` build a web `Request` around the socket (`Readable.toWeb`), and
 * every later read of that body then goes through web streams instead of the adapter's direct
 * read of the socket: 6.4 % of the api's busy time in a profile of the bench, for bodies whose
 * size the header already gave. A request without `Transfer-Encoding` is judged as `bodyLimit`
 * judges it, on its Content-Length alone (Node's HTTP parser delivers exactly that many bytes,
 * and no header means no body).
 */
export function limitBody(maxBytes: number): MiddlewareHandler<ApiEnv> {
  const tooLarge = () => {
    throw new DomainError('PAYLOAD_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
  };
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    if (c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    return Number.parseInt(c.req.header('content-length') ?? '0', 10) > maxBytes ? tooLarge() : next();
  };
}

const BEARER = /^Bearer +([^\s]+) *$/i;

export interface ApiKeyAuthOptions {
  readonly em: Orm['em'];
  readonly authenticator: ApiKeyAuthenticator;
  /** Requests that authenticate otherwise (the SaaS webhook: by its signature). */
  readonly exempt: (method: string, path: string) => boolean;
}

/**
 * `Authorization: Bearer <key>` → the key's tenant (401 without a live key). An `X-TENANT-ID`
 * that names another tenant is refused (403): the header may confirm the key's tenant, never
 * switch to another one.
 */
export function requireApiKey({ em, authenticator, exempt }: ApiKeyAuthOptions): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (exempt(c.req.method, c.req.path)) return next();
    const token = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (token === undefined) throw new DomainError('UNAUTHORIZED', 'missing bearer API key');
    const tenant = await authenticator.authenticate(em, token);
    if (tenant === null) throw new DomainError('UNAUTHORIZED', 'invalid API key');
    const claimed = c.req.header('x-tenant-id');
    if (claimed !== undefined && claimed !== tenant) {
      throw new DomainError('FORBIDDEN', 'X-TENANT-ID does not match the API key');
    }
    c.set('tenant', tenant);
    c.set('logger', c.var.logger.child({ tenant }));
    await next();
  };
}

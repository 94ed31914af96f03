import { errorAnswerSchema } from '@ctp/core/contracts';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from './env.ts';
import { validationHook } from './errors.ts';

/**
 * A router for one resource. Routes are declared with `createRoute` (full paths, `/v1/...`) so
 * `/openapi.json` is generated from the same schemas that validate; failed validation goes to
 * the api's one error handler.
 */
export function createRouter(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
}

/** `content` of a JSON answer or body, for `createRoute`. */
export function json<T>(schema: T) {
  return { 'application/json': { schema } } as const;
}

const ERROR_DESCRIPTIONS = {
  400: 'VALIDATION_FAILED: `details` names each bad field',
  401: 'UNAUTHORIZED: no API key, or not a live one',
  403: "FORBIDDEN: `X-TENANT-ID` is not the API key's tenant",
  404: "NOT_FOUND (also for another tenant's ids)",
  409: "INVALID_STATE, OPERATION_IN_PROGRESS, CTP_NOT_ENABLED (the tenant's CTP settings do not let the entity enrol), CARD_NOT_ACTIVE (the card is BLOCKED or CLOSED), CUSTOMER_NOT_ACTIVE (the customer is CLOSED), KIT_ALREADY_EXISTS (a replacement's newKitNo is taken), or CONFLICT (collided with a change made at the same time; nothing was written)",
  413: 'PAYLOAD_TOO_LARGE: body over 64 KiB',
  415: 'UNSUPPORTED_MEDIA_TYPE: body is not application/json',
  422: 'IDEMPOTENCY_KEY_REUSED',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE: a dependency is down; nothing was accepted',
} as const;

/**
 * `errorResponses` for a set of documented statuses and the error body they share: the v1
 * routes' contract body here, M2P's envelope in `m2p/http.ts`.
 */
export function documentedErrors<const D extends Readonly<Record<number, string>>, Schema>(
  descriptions: D,
  schema: Schema,
) {
  type Response = { readonly description: string; readonly content: ReturnType<typeof json<Schema>> };
  return <const S extends keyof D & number>(...statuses: S[]): Record<S, Response> => {
    const responses: Partial<Record<S, Response>> = {};
    for (const status of statuses) {
      responses[status] = { description: descriptions[status] as string, content: json(schema) };
    }
    return responses as Record<S, Response>;
  };
}

/** The documented error answers of a route, all with the contract's error body. */
export const errorResponses = documentedErrors(ERROR_DESCRIPTIONS, errorAnswerSchema);

import { DomainError } from '@ctp/core/errors';
import type { Logger } from '@ctp/core/logging';

/** What the api's middleware puts on each request's context. */
export interface ApiEnv {
  Variables: {
    /** `X-Request-Id` of the request (the client's, if it sent a usable one) and of the answer. */
    requestId: string;
    /** The request's logger: request id bound, and the tenant once authenticated. */
    logger: Logger;
    /** The API key's tenant; set on every authenticated route, absent on the webhook receiver. */
    tenant: string | undefined;
  };
}

/**
 * The authenticated tenant, for handlers behind the API key middleware. Throws rather than
 * letting a route that was mounted outside the middleware run with no tenant.
 */
export function tenantOf(c: { readonly var: { readonly tenant?: string | undefined } }): string {
  const { tenant } = c.var;
  if (tenant === undefined) throw new DomainError('UNAUTHORIZED', 'authentication required');
  return tenant;
}

import type { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { ApiEnv } from '../http/env.ts';

/**
 * The reference page's script, pinned so the page does not change under us. It is loaded from
 * the jsDelivr CDN: serving it ourselves would mean depending on `@scalar/api-reference`, about
 * 250 packages and 260 MB installed, for one 4 MB file. `/openapi.json` needs nothing external.
 */
const SCALAR_BUNDLE = 'https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.72.1';

const DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'CTP lifecycle service API',
    version: '1',
    description:
      'Platform records (customers and cards) and Click to Pay operations. Every non-2xx answer has the body `{ "error": { "code", "message", "details"? } }`.',
  },
  security: [{ bearerAuth: [] }],
};

/**
 * `/openapi.json` (OpenAPI 3.1, generated from every route declared with `createRoute` and
 * mounted on `app`) and `/docs`, a browsable reference over it. Both are public, outside `/v1`.
 * A route that does not take the API key (the webhook receiver) declares `security: []`.
 */
export function mountApiDocs(app: OpenAPIHono<ApiEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: "An API key; it determines the tenant. `X-TENANT-ID`, if sent, must name the key's tenant.",
  });
  // Generated once, at the first request: every router is mounted by then.
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get('/openapi.json', (c) => {
    document ??= app.getOpenAPI31Document(DOCUMENT);
    return c.json(document);
  });
  app.get(
    '/docs',
    Scalar({ url: '/openapi.json', pageTitle: 'CTP lifecycle service API', cdn: SCALAR_BUNDLE }),
  );
}

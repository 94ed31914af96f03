import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from '../http/env.ts';

const TITLE = 'CTP lifecycle service API';

const DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: TITLE,
    version: '1',
    description:
      'Platform records (customers and cards) and Click to Pay operations. Every non-2xx answer has the body `{ "error": { "code", "message", "details"? } }`.',
    // Not open source: SPDX's form for a licence of one's own.
    license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
  },
  // Relative: the api that serves this document, whatever host and scheme the bank gives it.
  servers: [{ url: '/', description: 'The api that serves this document' }],
  security: [{ bearerAuth: [] }],
};

/**
 * The reference page is Swagger UI from the `swagger-ui-dist` package, served by the api itself
 * so that it works on a network without internet (no CDN). Its start script is a file too, so
 * the page's CSP allows scripts from this origin only; `validatorUrl: null` keeps Swagger UI
 * from sending the document to its public validator.
 */
const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const START = `window.addEventListener('load', () => {
  const root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({ url: root.dataset.url, domNode: root, deepLinking: true, validatorUrl: null });
});
`;
const ASSETS: Record<
  string,
  { readonly type: string; readonly load: () => Promise<string | Uint8Array<ArrayBuffer>> }
> = {
  'swagger-ui.css': {
    type: 'text/css; charset=utf-8',
    load: () => readFile(join(SWAGGER_UI, 'swagger-ui.css')),
  },
  'swagger-ui-bundle.js': {
    type: 'text/javascript; charset=utf-8',
    load: () => readFile(join(SWAGGER_UI, 'swagger-ui-bundle.js')),
  },
  'favicon-32x32.png': { type: 'image/png', load: () => readFile(join(SWAGGER_UI, 'favicon-32x32.png')) },
  'start.js': { type: 'text/javascript; charset=utf-8', load: async () => START },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${TITLE}</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="/openapi.json"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/start.js"></script>
</body>
</html>
`;

/**
 * Nothing from another origin: scripts, styles, images, fonts and fetches (the document, "Try it
 * out") from this one, and no inline script or style. Swagger UI draws its icons as data: URLs.
 * The browser test (`docs-browser.test.ts`) fails on any CSP violation the page causes.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

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
  app.get('/docs', (c) => {
    c.header('Content-Security-Policy', DOCS_CSP);
    return c.html(PAGE);
  });
  // Read at the first request for each, then kept: about 1.5 MB in all.
  const loaded = new Map<string, Promise<string | Uint8Array<ArrayBuffer>>>();
  app.get('/docs/assets/:name', async (c) => {
    const name = c.req.param('name');
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (asset === undefined) return c.notFound();
    let body = loaded.get(name);
    if (body === undefined) {
      body = asset.load().catch((error: unknown) => {
        loaded.delete(name);
        throw error;
      });
      loaded.set(name, body);
    }
    c.header('Content-Security-Policy', DOCS_CSP);
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(await body, 200, { 'Content-Type': asset.type });
  });
}

import { type ApiKeyAuthenticator, createApiKeyAuthenticator } from '@ctp/core/auth';
import type { PanCipher } from '@ctp/core/cards';
import type { Logger } from '@ctp/core/logging';
import {
  createHttpMetrics,
  createWebhookMetrics,
  httpMetricsMiddleware,
  metricsRoutes,
  type Registry,
} from '@ctp/core/metrics';
import type { EntityChangeHook } from '@ctp/core/records';
import { healthRoutes, type ReadinessCheck } from '@ctp/core/runtime';
import type { SaasClient } from '@ctp/core/saas';
import { httpTracing } from '@ctp/core/tracing';
import type { Orm } from '@ctp/db';
import { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import type { Redis } from 'ioredis';
import type { ApiEnv } from './http/env.ts';
import { handleError, handleNotFound, validationHook } from './http/errors.ts';
import { limitBody, requestContext, requireApiKey } from './http/middleware.ts';
import { tenantRateLimit } from './http/rate-limit.ts';
import { handleM2pError, handleM2pNotFound, isM2pPath, M2P_PATHS, requireM2pApiKey } from './m2p/http.ts';
import { createM2pRoutes } from './m2p/routes.ts';
import { BATCHES_PATH, createBatchRoutes } from './routes/batches.ts';
import { createCardLifecycleRoutes } from './routes/card-lifecycle.ts';
import { createCtpOperationRoutes } from './routes/ctp-operations.ts';
import { createCtpReadRoutes } from './routes/ctp-reads.ts';
import { mountApiDocs } from './routes/docs.ts';
import { createEntityRoutes } from './routes/entities.ts';
import { createKitRoutes } from './routes/kits.ts';
import { createReconciliationRoutes } from './routes/reconciliations.ts';
import { createSettingsRoutes } from './routes/settings.ts';
import { createWebhookRoutes, type WebhookRoutesDependencies } from './routes/webhooks.ts';

export interface ApiDependencies {
  readonly orm: Orm;
  readonly logger: Logger;
  readonly panCipher: PanCipher;
  /** `API_KEY_PEPPER`: API keys are looked up by their HMAC under it. */
  readonly apiKeyPepper: string;
  /** API key → tenant, cached; one per app by default. */
  readonly authenticator?: ApiKeyAuthenticator;
  /** Per-tenant request limit across api processes; none when absent (tests). */
  readonly rateLimit?: { readonly redis: Redis; readonly prefix: string; readonly perSecond: number };
  /** For `GET /v1/ctp/entities/{id}/network`. */
  readonly saas: SaasClient;
  /** `whsec_<base64>`, shared with the SaaS, for the webhook receiver. */
  readonly webhookSecret: string;
  /** Runs inside each entity change's transaction (automatic CTP updates). */
  readonly onEntityChanged?: EntityChangeHook;
  /** The process's metrics registry: HTTP latency and webhook deliveries, served at `/metrics`. */
  readonly metrics?: Registry;
  /** `/readyz` checks; PostgreSQL answering when absent. */
  readonly readinessChecks?: readonly ReadinessCheck[];
  /** `M2P_ACCEPT_WAIT_MS`: how long an M2P-compatible mutation waits for the SaaS's trace [10 s]. */
  readonly m2pAcceptWaitMs?: number;
}

/** The one route under `/v1` that authenticates by signature instead of an API key. */
export const WEBHOOK_PATH = '/v1/ctp/webhooks/saas';

export const MAX_BODY_BYTES = 64 * 1024;

/** Every resource router, each built by its factory from the dependencies. Add a router here. */
function routers(deps: ApiDependencies & WebhookRoutesDependencies): readonly OpenAPIHono<ApiEnv>[] {
  return [
    createEntityRoutes(deps),
    createKitRoutes(deps),
    createCardLifecycleRoutes(deps),
    createCtpOperationRoutes(deps),
    createCtpReadRoutes(deps),
    createSettingsRoutes(deps),
    createBatchRoutes(deps),
    createReconciliationRoutes(deps),
    createWebhookRoutes(deps),
    createM2pRoutes({
      ...deps,
      ...(deps.m2pAcceptWaitMs === undefined ? {} : { acceptWaitMs: deps.m2pAcceptWaitMs }),
    }),
  ];
}

/** The api as a Hono app built from its dependencies, so tests can build one per database. */
export function createApiApp(deps: ApiDependencies): OpenAPIHono<ApiEnv> {
  const { orm, logger } = deps;
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
  // The M2P-compatible paths answer every error in M2P's envelope, classified by the same handler.
  app.onError((error, c) => (isM2pPath(c.req.path) ? handleM2pError(error, c) : handleError(error, c)));
  app.notFound((c) => (isM2pPath(c.req.path) ? handleM2pNotFound(c) : handleNotFound(c)));

  // The request's span (when tracing is on) is the root of an operation's trace: outermost.
  const traced = httpTracing();
  if (traced) app.use(traced);
  // Outermost, so the latency covers every middleware and the status is the final one.
  if (deps.metrics) app.use(httpMetricsMiddleware(createHttpMetrics(deps.metrics)));
  app.use(requestContext(logger));
  app.use(secureHeaders());
  // A batch is the one body larger than 64 KiB: its route bounds it as it streams in, by bytes,
  // items and lines (`routes/batch-body.ts`); Hono's limit would queue the whole body in memory.
  const bodyLimit = limitBody(MAX_BODY_BYTES);
  app.use((c, next) =>
    c.req.method === 'POST' && c.req.path === BATCHES_PATH ? next() : bodyLimit(c, next),
  );
  const authenticator = deps.authenticator ?? createApiKeyAuthenticator({ pepper: deps.apiKeyPepper });
  app.use(
    '/v1/*',
    requireApiKey({
      em: orm.em,
      authenticator,
      exempt: (method, path) => method === 'POST' && path === WEBHOOK_PATH,
    }),
  );
  app.use(M2P_PATHS, requireM2pApiKey(orm.em, authenticator));
  if (deps.rateLimit) {
    const limit = tenantRateLimit(deps.rateLimit);
    app.use('/v1/*', limit);
    app.use(M2P_PATHS, limit);
  }

  const webhookMetrics = deps.metrics && createWebhookMetrics(deps.metrics);
  const onDelivery = webhookMetrics && { onDelivery: webhookMetrics.delivered };
  for (const router of routers({ ...deps, ...onDelivery })) app.route('/', router);
  app.route(
    '/',
    healthRoutes(
      deps.readinessChecks ?? [
        { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
      ],
    ),
  );
  if (deps.metrics) app.route('/', metricsRoutes(deps.metrics));
  mountApiDocs(app);
  return app;
}

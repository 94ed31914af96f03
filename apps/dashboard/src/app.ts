import type { Logger } from '@ctp/core/logging';
import {
  createAdminMetrics,
  createHttpMetrics,
  httpMetricsMiddleware,
  metricsRoutes,
  type Registry,
} from '@ctp/core/metrics';
import { healthRoutes, type ReadinessCheck } from '@ctp/core/runtime';
import { httpTracing } from '@ctp/core/tracing';
import type { Orm } from '@ctp/db';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { LoginLimiter } from './auth/login-limiter.ts';
import { authRoutes, refuseLockedOut, requireSession, sameSiteOnly } from './auth/routes.ts';
import { SessionSigner } from './auth/session.ts';
import { batchRoutes } from './batches/routes.ts';
import { consoleRoutes } from './console/routes.ts';
import type { DashboardEnv } from './env.ts';
import { limitBody, refuseUnstorableUrlText } from './http.ts';
import { guardQueueWrites } from './queue-writes.ts';
import { BULL_BOARD_PATH, bullBoardRoutes, type Queues } from './queues.ts';
import { reconciliationRoutes } from './reconciliations/routes.ts';
import { settingsRoutes } from './settings/routes.ts';
import type { StuckThresholds } from './views/overview.ts';

export interface DashboardDependencies {
  readonly orm: Orm;
  readonly queues: Queues;
  readonly credentials: { readonly username: string; readonly password: string };
  readonly logger: Logger;
  /** The process's metrics registry: HTTP latency and operator actions, served at `/metrics`. */
  readonly metrics?: Registry;
  /** `/readyz` checks; PostgreSQL answering when absent. */
  readonly readinessChecks?: readonly ReadinessCheck[];
  /** `Secure` session cookies (production, behind TLS). */
  readonly secureCookies?: boolean;
  readonly stuck?: StuckThresholds;
  readonly loginLimiter?: LoginLimiter;
  /** `DASHBOARD_QUEUE_ADMIN`: Bull Board's destructive writes are allowed (off when absent). */
  readonly queueAdmin?: boolean;
  /** `TRACING_UI_URL`, with `{traceId}`: the console links each operation to its trace. */
  readonly tracingUiUrl?: string | undefined;
}

export const DEFAULT_STUCK: StuckThresholds = { queuedMs: 60_000, inProgressMs: 5 * 60_000 };

/**
 * The operators' dashboard: Bull Board at `/queues` and the CTP console at `/`, both behind one
 * login; every write of either needs the session's CSRF token and is written to `ctp_audit_log`.
 * Open without a session: `/login`, `/healthz`, `/readyz` and `/metrics` only.
 */
export function createDashboardApp(deps: DashboardDependencies): Hono<DashboardEnv> {
  const { orm, logger } = deps;
  const signer = new SessionSigner(deps.credentials);
  const app = new Hono<DashboardEnv>();
  app.onError((error, c) => {
    logger.error({ err: error, path: c.req.path }, 'dashboard request failed');
    return c.text('The dashboard could not answer; the error is in its log.', 500);
  });

  const traced = httpTracing();
  if (traced) app.use(traced);
  if (deps.metrics) app.use(httpMetricsMiddleware(createHttpMetrics(deps.metrics)));
  // Referrers stay on this site (ids in URLs do not leak to other sites; forms keep their Origin).
  app.use(secureHeaders({ referrerPolicy: 'same-origin', xFrameOptions: 'DENY' }));
  const limiter = deps.loginLimiter ?? new LoginLimiter();
  // In this order: a locked-out address is refused before its body is read at all, every other
  // body is read only up to the limit, and no NUL byte in an address reaches a query.
  app.use(refuseLockedOut({ limiter, logger }));
  app.use(limitBody());
  app.use(refuseUnstorableUrlText());
  app.use(requireSession({ signer }));
  app.use(sameSiteOnly());
  const adminMetrics = deps.metrics ? createAdminMetrics(deps.metrics) : undefined;
  app.use(
    guardQueueWrites({
      em: orm.em,
      signer,
      logger,
      queueAdmin: deps.queueAdmin ?? false,
      secureCookies: deps.secureCookies ?? false,
      ...(adminMetrics ? { adminMetrics } : {}),
    }),
  );

  app.route(
    '/',
    healthRoutes(
      deps.readinessChecks ?? [
        { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
      ],
    ),
  );
  if (deps.metrics) app.route('/', metricsRoutes(deps.metrics));
  app.route(
    '/',
    authRoutes({
      credentials: deps.credentials,
      signer,
      limiter,
      logger,
      secureCookies: deps.secureCookies ?? false,
    }),
  );
  app.route(BULL_BOARD_PATH, bullBoardRoutes(deps.queues));
  app.route(
    '/',
    consoleRoutes({
      orm,
      queues: deps.queues,
      signer,
      logger,
      stuck: deps.stuck ?? DEFAULT_STUCK,
      ...(adminMetrics ? { adminMetrics } : {}),
      tracingUiUrl: deps.tracingUiUrl,
    }),
  );
  app.route('/', settingsRoutes({ orm, signer, logger }));
  app.route('/', reconciliationRoutes({ orm }));
  app.route('/', batchRoutes({ orm, signer, logger, ...(adminMetrics ? { adminMetrics } : {}) }));
  return app;
}

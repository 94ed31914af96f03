import { DEV_DEFAULTS, loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { createMetricsRegistry } from '@ctp/core/metrics';
import { createRedis } from '@ctp/core/queues';
import { handleShutdown, redisReadinessCheck, startHttpServer } from '@ctp/core/runtime';
import { createOrm, databaseReadinessChecks, databaseTimeoutsOf } from '@ctp/db';
import { createDashboardApp } from './app.ts';
import { closeQueues, openQueues } from './queues.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'dashboard', level: config.LOG_LEVEL });

try {
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL, timeouts: databaseTimeoutsOf(config) });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const queues = openQueues(redis, config.QUEUE_PREFIX);
  if (config.DASHBOARD_PASSWORD === DEV_DEFAULTS.DASHBOARD_PASSWORD) {
    logger.warn('DASHBOARD_PASSWORD is the development default: set your own outside local use');
  }
  const app = createDashboardApp({
    orm,
    queues,
    credentials: { username: config.DASHBOARD_USERNAME, password: config.DASHBOARD_PASSWORD },
    logger,
    metrics: createMetricsRegistry('dashboard'),
    // Redis down leaves Bull Board empty but the console working: the operators need it most then.
    readinessChecks: [...databaseReadinessChecks(orm), redisReadinessCheck(redis, { critical: false })],
    secureCookies: config.NODE_ENV === 'production',
    queueAdmin: config.DASHBOARD_QUEUE_ADMIN,
    stuck: { queuedMs: 2 * config.SWEEP_STALE_MS, inProgressMs: 5 * 60_000 },
    tracingUiUrl: config.TRACING_UI_URL,
  });
  const server = await startHttpServer(app, { port: config.DASHBOARD_PORT, logger });

  handleShutdown(logger, [
    { name: 'http', run: () => server.close() },
    { name: 'queues', run: () => closeQueues(queues) },
    { name: 'redis', run: () => redis.quit() },
    { name: 'postgresql', run: () => orm.close() },
  ]);
} catch (error) {
  logger.fatal({ err: error }, 'dashboard failed to start');
  process.exit(1);
}

import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { createMetricsRegistry, metricsRoutes } from '@ctp/core/metrics';
import { handleShutdown, healthRoutes, startHttpServer } from '@ctp/core/runtime';
import { createOrm, databaseReadinessChecks, databaseTimeoutsOf } from '@ctp/db';
import { Hono } from 'hono';
import { startWorkerRuntime } from './runtime.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
const orm = await createOrm({ databaseUrl: config.DATABASE_URL, timeouts: databaseTimeoutsOf(config) });
const metrics = createMetricsRegistry('worker');
const runtime = await startWorkerRuntime({ config, orm, logger, metrics });

const endpoints = new Hono()
  .route(
    '/',
    healthRoutes([...databaseReadinessChecks(orm), { name: 'redis', check: () => runtime.pingRedis() }]),
  )
  .route('/', metricsRoutes(metrics));
const server = await startHttpServer(endpoints, { port: config.WORKER_PORT, logger });

handleShutdown(logger, [
  { name: 'http', run: () => server.close() },
  { name: 'jobs', run: () => runtime.close() },
  { name: 'postgresql', run: () => orm.close() },
]);

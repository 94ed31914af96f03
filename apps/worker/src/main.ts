// Started with `--max-semi-space-size=16 --max-old-space-size=192` (package.json `start`, the
// Dockerfile, docker-compose, the bench). Node 24 sizes the heap from the machine's memory: on a
// 24 GB host, 64 MB semi-spaces (128 MB of young generation) and an old generation left to grow
// to hundreds of MB before a full collection: the api and the worker sat at 400-500 MB of RSS,
// the api with about 50 MB of live objects (heap snapshot, 2026-12-01). With these limits each
// stays near 200 MB (BENCHMARKS.md); 192 MB is about four times the api's live heap under the
// bench's 64 clients.
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

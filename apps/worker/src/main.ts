import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, healthRoutes, startHttpServer } from '@ctp/core/runtime';
import { createOrm } from '@ctp/db';
import { startWorkerRuntime } from './runtime.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
const orm = await createOrm({ databaseUrl: config.DATABASE_URL });
const runtime = await startWorkerRuntime({ config, orm, logger });

const health = healthRoutes([
  { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
  { name: 'redis', check: () => runtime.pingRedis() },
]);
const server = await startHttpServer(health, { port: config.WORKER_PORT, logger });

handleShutdown(logger, [
  { name: 'http', run: () => server.close() },
  { name: 'jobs', run: () => runtime.close() },
  { name: 'postgresql', run: () => orm.close() },
]);

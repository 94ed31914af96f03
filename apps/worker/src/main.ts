import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, healthRoutes, startHttpServer } from '@ctp/core/runtime';
import { createOrm } from '@ctp/db';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
const orm = await createOrm({ databaseUrl: config.DATABASE_URL });

// The worker's processors arrive with the operations pipeline; for now it only reports health.
const health = healthRoutes([
  { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
]);
const server = await startHttpServer(health, { port: config.WORKER_PORT, logger });

handleShutdown(logger, [
  { name: 'http', run: () => server.close() },
  { name: 'postgresql', run: () => orm.close() },
]);

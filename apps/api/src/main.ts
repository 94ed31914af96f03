import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, startHttpServer } from '@ctp/core/runtime';
import { createOrm } from '@ctp/db';
import { createApiApp } from './app.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
const orm = await createOrm({ databaseUrl: config.DATABASE_URL });
const server = await startHttpServer(createApiApp({ orm }), { port: config.API_PORT, logger });

handleShutdown(logger, [
  { name: 'http', run: () => server.close() },
  { name: 'postgresql', run: () => orm.close() },
]);

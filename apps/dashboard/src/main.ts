import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, startHttpServer } from '@ctp/core/runtime';
import { createOrm } from '@ctp/db';
import { createDashboardApp } from './app.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'dashboard', level: config.LOG_LEVEL });
const orm = await createOrm({ databaseUrl: config.DATABASE_URL });
const server = await startHttpServer(createDashboardApp({ orm }), { port: config.DASHBOARD_PORT, logger });

handleShutdown(logger, [
  { name: 'http', run: () => server.close() },
  { name: 'postgresql', run: () => orm.close() },
]);

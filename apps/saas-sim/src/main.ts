import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, startHttpServer } from '@ctp/core/runtime';
import { createSimulatorApp } from './app.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'saas-sim', level: config.LOG_LEVEL });
const server = await startHttpServer(createSimulatorApp(), { port: config.SAAS_SIM_PORT, logger });

handleShutdown(logger, [{ name: 'http', run: () => server.close() }]);

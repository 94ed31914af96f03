import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, startHttpServer } from '@ctp/core/runtime';
import { adminRoutesEnabled } from './admin-env.ts';
import { parseFaultsJson } from './faults.ts';
import { createSimulator } from './simulator.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'saas-sim', level: config.LOG_LEVEL });

function orExit<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    // Same convention as the shared configuration: name the variable, exit 78 (EX_CONFIG).
    process.stderr.write(
      `invalid configuration:\n  - ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(78);
  }
}

const simulator = createSimulator({
  apiKey: config.CTP_SAAS_API_KEY,
  webhookSecret: config.CTP_WEBHOOK_SECRET,
  webhookUrl: config.WEBHOOK_URL,
  tenants: config.SAAS_SIM_TENANTS,
  completionDelayMs: config.SAAS_SIM_COMPLETION_DELAY_MS,
  faults: orExit(() => parseFaultsJson(config.SAAS_SIM_FAULTS)),
  admin: orExit(() => adminRoutesEnabled(config.NODE_ENV)),
  logger,
});
const server = await startHttpServer(simulator.app, { port: config.SAAS_SIM_PORT, logger });
logger.info(
  { tenants: config.SAAS_SIM_TENANTS, webhookUrl: config.WEBHOOK_URL, faults: simulator.faults() },
  'CTP SaaS simulator ready',
);

handleShutdown(logger, [
  { name: 'http', run: () => server.close() },
  { name: 'simulator', run: () => simulator.close() },
]);

import { syncConfiguredApiKeys } from '@ctp/core/auth';
import { createPanCipher } from '@ctp/core/cards';
import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { handleShutdown, startHttpServer } from '@ctp/core/runtime';
import { SaasClient } from '@ctp/core/saas';
import { createOrm } from '@ctp/db';
import { createApiApp } from './app.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });

try {
  const panCipher = createPanCipher({ current: config.PAN_ENCRYPTION_KEY });
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL });
  // Before serving: a request must never meet a configured key that is not in the table yet.
  const { keys } = await syncConfiguredApiKeys(orm.em, config.API_KEYS);
  logger.info({ keys, panKeyId: panCipher.currentKeyId }, 'API keys synced');
  const saas = new SaasClient({
    baseUrl: config.CTP_SAAS_BASE_URL,
    apiKey: config.CTP_SAAS_API_KEY,
    timeoutMs: config.SAAS_TIMEOUT_MS,
  });
  const app = createApiApp({ orm, logger, panCipher, saas, webhookSecret: config.CTP_WEBHOOK_SECRET });
  const server = await startHttpServer(app, { port: config.API_PORT, logger });

  handleShutdown(logger, [
    { name: 'http', run: () => server.close() },
    { name: 'saas client', run: () => saas.close() },
    { name: 'postgresql', run: () => orm.close() },
  ]);
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  process.exit(1);
}

import { createLogger } from '@ctp/core/logging';
import { NotificationConsumer } from '@ctp/core/notifications';
import { createRedis } from '@ctp/core/queues';
import { handleShutdown } from '@ctp/core/runtime';
import { readConfig } from './config.ts';
import { createHandler } from './handler.ts';

// A wrong variable stops the process with EX_CONFIG (78) and names it, as the apps do.
const config = readConfigOrExit();

function readConfigOrExit() {
  try {
    return readConfig();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(78);
  }
}

const logger = createLogger({ name: 'example-notification-consumer', level: config.LOG_LEVEL });
const redis = createRedis(config.REDIS_URL);

const consumer = new NotificationConsumer({
  redis,
  stream: config.NOTIFICATION_STREAM,
  group: config.CONSUMER_GROUP,
  consumer: config.CONSUMER_NAME,
  concurrency: config.CONSUMER_CONCURRENCY,
  logger,
  handler: createHandler(logger),
  // Entries trimmed before this group read them cannot be read any more: alert, then reconcile
  // what you hold with GET /v1/ctp/operations/{id} and the entity/kit reads of the API.
  onMissed: (missed) => logger.error({ missed }, 'ALERT: notifications were missed (retention); reconcile'),
});

// SIGTERM/SIGINT: stop reading, let running handlers finish and acknowledge, then disconnect.
handleShutdown(logger, [
  { name: 'notification consumer', run: () => consumer.stop() },
  { name: 'redis', run: () => redis.quit() },
]);

await consumer.start();

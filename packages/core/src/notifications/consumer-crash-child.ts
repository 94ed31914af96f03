/**
 * A consumer process for `consumer.test.ts`: it reads entries and never finishes handling
 * them, printing each stream id, so the test can SIGKILL it between read and acknowledgement.
 * Usage: node consumer-crash-child.ts <redisUrl> <stream> <group> <consumer>
 */
import { createLogger } from '../logging/logger.ts';
import { createRedis } from '../queues/redis.ts';
import { NotificationConsumer } from './consumer.ts';

const [url, stream, group, consumer] = process.argv.slice(2);
if (!url || !stream || !group || !consumer) {
  process.stderr.write('usage: consumer-crash-child.ts <redisUrl> <stream> <group> <consumer>\n');
  process.exit(64);
}

const notifications = new NotificationConsumer({
  redis: createRedis(url),
  stream,
  group,
  consumer,
  startFrom: '0',
  concurrency: 10,
  logger: createLogger({ name: 'crash-child', level: 'silent' }),
  handler: async (notification) => {
    process.stdout.write(`read ${notification.streamId}\n`);
    await new Promise<never>(() => {});
  },
});
await notifications.start();
process.stdout.write('ready\n');

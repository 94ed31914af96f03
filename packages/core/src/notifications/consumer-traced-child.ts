/**
 * A downstream consumer for `tests/e2e/test/tracing.test.ts`: a process of its own with tracing
 * on (`OTEL_EXPORTER_OTLP_ENDPOINT`, as any app), reading the notification stream in a consumer
 * group. For each notification it prints `handled <notificationId> <traceparent>`, the handler's
 * active span, so the test sees that the handler's own work is in the consumer's span. SIGTERM
 * stops it and exports the spans still buffered.
 * Usage: node consumer-traced-child.ts <redisUrl> <stream> <group>
 */
import { startTracing } from '../tracing/start.ts';

const [url, stream, group] = process.argv.slice(2);
if (!url || !stream || !group) {
  process.stderr.write('usage: consumer-traced-child.ts <redisUrl> <stream> <group>\n');
  process.exit(64);
}

// Before the modules it instruments (ioredis) are imported, as an app's preload does.
await startTracing('ctp-notification-consumer');
const { createLogger } = await import('../logging/logger.ts');
const { createRedis } = await import('../queues/redis.ts');
const { activeTraceparent, stopTracing } = await import('../tracing/index.ts');
const { NotificationConsumer } = await import('./consumer.ts');

const redis = createRedis(url);
const notifications = new NotificationConsumer({
  redis,
  stream,
  group,
  startFrom: '0',
  logger: createLogger({ name: 'traced-consumer', level: 'warn' }),
  handler: (notification) => {
    process.stdout.write(`handled ${notification.notificationId} ${activeTraceparent() ?? '-'}\n`);
  },
});
process.once('SIGTERM', () => {
  void notifications
    .stop()
    .then(() => redis.quit())
    .then(stopTracing)
    .then(() => process.exit(0));
});
await notifications.start();
process.stdout.write('ready\n');

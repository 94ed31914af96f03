// Started with `--max-semi-space-size=16 --max-old-space-size=192` (package.json `start`, the
// Dockerfile, docker-compose, the bench). Node 24 sizes the heap from the machine's memory: on a
// 24 GB host, 64 MB semi-spaces (128 MB of young generation) and an old generation left to grow
// to hundreds of MB before a full collection: the api and the worker sat at 400-500 MB of RSS,
// the api with about 50 MB of live objects (heap snapshot, 2026-12-01). With these limits each
// stays near 200 MB (BENCHMARKS.md); 192 MB is about four times the api's live heap under the
// bench's 64 clients.
import { syncConfiguredApiKeys } from '@ctp/core/auth';
import { createPanCipher } from '@ctp/core/cards';
import { loadConfigOrExit } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { createMetricsRegistry, createSaasMetrics, createTraceMetrics } from '@ctp/core/metrics';
import { NOTIFICATION_DEDUPE_TTL_S, NotificationPublisher } from '@ctp/core/notifications';
import { OutboxPublisher } from '@ctp/core/operations';
import { createRedis } from '@ctp/core/queues';
import { createJobQueues } from '@ctp/core/queues/job-queues';
import { handleShutdown, redisReadinessCheck, startHttpServer } from '@ctp/core/runtime';
import { SaasClient } from '@ctp/core/saas';
import { createOrm, databaseReadinessChecks, databaseTimeoutsOf } from '@ctp/db';
import { createApiApp } from './app.ts';

const config = loadConfigOrExit();
const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });

try {
  const panCipher = createPanCipher({
    current: config.PAN_ENCRYPTION_KEY,
    previous: config.PAN_ENCRYPTION_PREVIOUS_KEYS,
  });
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL, timeouts: databaseTimeoutsOf(config) });
  // Before serving: a request must never meet a configured key that is not in the table yet.
  const { keys } = await syncConfiguredApiKeys(orm.em, config.API_KEYS, config.API_KEY_PEPPER);
  logger.info({ keys, panKeyId: panCipher.currentKeyId }, 'API keys synced');
  const metrics = createMetricsRegistry('api');
  const saas = new SaasClient({
    baseUrl: config.CTP_SAAS_BASE_URL,
    apiKey: config.CTP_SAAS_API_KEY,
    timeoutMs: config.SAAS_TIMEOUT_MS,
    onCall: createSaasMetrics(metrics).observe,
  });
  // For /readyz and the per-tenant rate limit: the api writes its work to PostgreSQL's outbox and
  // never needs Redis to accept it, so Redis is reported but is not critical, and the rate limit
  // falls back to a per-process limiter without it. No offline queue: a command while Redis is
  // away fails at once instead of waiting for the reconnection.
  const redis = createRedis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (error) => logger.debug({ err: error }, 'redis unavailable (readiness only)'));
  // The outbox rows of the api's steps (a request's job, a webhook's outcome) are published right
  // after their commit, on this same connection; while Redis is away that fails at once and the
  // worker's relay takes them from PostgreSQL, so accepting work still never needs Redis.
  const queues = await createJobQueues(redis, config.QUEUE_PREFIX, (error) =>
    logger.debug({ err: error }, 'redis unavailable (job queues)'),
  );
  const traceMetrics = createTraceMetrics(metrics);
  const ownRows = new OutboxPublisher({
    em: orm.em,
    queues,
    notifications: new NotificationPublisher(redis, {
      stream: config.NOTIFICATION_STREAM,
      maxLength: config.NOTIFICATION_STREAM_MAXLEN,
      dedupeTtlSeconds: NOTIFICATION_DEDUPE_TTL_S,
    }),
    logger,
    redisTimeoutMs: config.OUTBOX_RELAY_REDIS_TIMEOUT_MS,
    leaseMs: config.OUTBOX_CLAIM_LEASE_MS,
    onTraceResolved: traceMetrics.observe,
  });
  await ownRows.attach();
  const app = createApiApp({
    orm,
    logger,
    panCipher,
    saas,
    webhookSecret: config.CTP_WEBHOOK_SECRET,
    apiKeyPepper: config.API_KEY_PEPPER,
    rateLimit: { redis, prefix: config.QUEUE_PREFIX, perSecond: config.API_RATE_LIMIT_PER_SECOND },
    metrics,
    m2pAcceptWaitMs: config.M2P_ACCEPT_WAIT_MS,
    readinessChecks: [...databaseReadinessChecks(orm), redisReadinessCheck(redis, { critical: false })],
  });
  const server = await startHttpServer(app, { port: config.API_PORT, logger });

  handleShutdown(logger, [
    { name: 'http', run: () => server.close() },
    { name: 'saas client', run: () => saas.close() },
    { name: 'outbox publications', run: () => ownRows.close() },
    { name: 'job queues', run: () => Promise.all(Object.values(queues).map((queue) => queue.close())) },
    { name: 'redis', run: () => redis.quit() },
    { name: 'postgresql', run: () => orm.close() },
  ]);
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  process.exit(1);
}

import { z } from 'zod';
import { tracingEnvSchema } from './tracing.ts';

/**
 * The platform contract's environment variables ("Running it"), read once at boot through
 * this one schema. Defaults are for local development only: with NODE_ENV=production a
 * default secret is refused (see `refuseDefaultSecretsInProduction`).
 */

export const DEV_DEFAULTS = {
  API_KEYS: 'ENBDTABBY:dev-key-enbdtabby,DEMOBANK:dev-key-demobank',
  CTP_SAAS_API_KEY: 'dev-saas-api-key',
  CTP_WEBHOOK_SECRET: 'whsec_ZGV2LXdlYmhvb2stc2VjcmV0LWRvLW5vdC11c2UtaW4tcHJvZA==',
  PAN_ENCRYPTION_KEY: 'ZGV2LXBhbi1rZXktMzItYnl0ZXMtbm90LTQtcHJvZCE=',
  DASHBOARD_PASSWORD: 'dev-dashboard-password',
  API_KEY_PEPPER: 'dev-api-key-pepper-not-for-production',
} as const;

// 0 picks a free port (tests, several processes on one machine).
const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

const url = (protocols: readonly string[], fallback: string) =>
  z
    .url({ protocol: new RegExp(`^(${protocols.join('|')})$`) })
    .default(fallback)
    .describe(`a ${protocols.join(' or ')} URL`);

const base64Bytes = (n: number) =>
  z.string().refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s) && Buffer.from(s, 'base64').length === n, {
    message: `must be the base64 encoding of exactly ${n} bytes`,
  });

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;

export interface ApiKeyEntry {
  readonly tenant: string;
  readonly key: string;
}

const apiKeys = z
  .string()
  .default(DEV_DEFAULTS.API_KEYS)
  .transform((raw, ctx): ApiKeyEntry[] => {
    const entries: ApiKeyEntry[] = [];
    for (const [i, part] of raw.split(',').entries()) {
      const item = part.trim();
      if (item === '') continue;
      const sep = item.indexOf(':');
      const tenant = item.slice(0, sep);
      const key = item.slice(sep + 1);
      if (sep <= 0 || !TENANT.test(tenant) || key.length < 16) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${i + 1} must be TENANT:KEY with a tenant of letters, digits, _ or - and a key of at least 16 characters`,
        });
        continue;
      }
      entries.push({ tenant, key });
    }
    return entries;
  });

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  DATABASE_URL: url(['postgres', 'postgresql'], 'postgresql://postgres@127.0.0.1:5432/ctp'),
  REDIS_URL: url(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
  API_PORT: port(3000),
  DASHBOARD_PORT: port(3001),
  SAAS_SIM_PORT: port(4010),
  // Not in the contract's table: the worker's own health and metrics endpoint.
  WORKER_PORT: port(3002),
  API_KEYS: apiKeys,
  /** Server-side secret of the API key hashes (HMAC-SHA-256): the database alone cannot verify a key. */
  API_KEY_PEPPER: z.string().min(16).default(DEV_DEFAULTS.API_KEY_PEPPER),
  /** Requests per second per tenant on the api, across all api processes. */
  API_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(200),
  CTP_SAAS_BASE_URL: url(['http', 'https'], 'http://127.0.0.1:4010'),
  CTP_SAAS_API_KEY: z.string().min(16).default(DEV_DEFAULTS.CTP_SAAS_API_KEY),
  CTP_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64')
    .refine((s) => Buffer.from(s.slice('whsec_'.length), 'base64').length >= 24, {
      message: 'the base64 part must decode to at least 24 bytes',
    })
    .default(DEV_DEFAULTS.CTP_WEBHOOK_SECRET),
  PAN_ENCRYPTION_KEY: base64Bytes(32).default(DEV_DEFAULTS.PAN_ENCRYPTION_KEY),
  /** Earlier PAN keys, comma-separated, for decryption only while `ctp keys reencrypt` moves PANs off them. */
  PAN_ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .default('')
    .transform((raw) =>
      raw
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k !== ''),
    )
    .pipe(z.array(base64Bytes(32))),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // The audit log's actor column holds 128 characters: a longer name would make every audited write fail.
  DASHBOARD_USERNAME: z.string().min(1).max(128).default('admin'),
  DASHBOARD_PASSWORD: z.string().min(12).default(DEV_DEFAULTS.DASHBOARD_PASSWORD),
  /**
   * Bull Board's destructive writes (obliterate, add or edit a job, empty, clean, schedulers,
   * concurrency and rate limits): refused unless `true`. Pause, resume, retry and promote stay open.
   */
  DASHBOARD_QUEUE_ADMIN: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
  WEBHOOK_URL: url(['http', 'https'], 'http://127.0.0.1:3000/v1/ctp/webhooks/saas'),
  // The simulator's own settings (apps/saas-sim), beside the contract's variables.
  SAAS_SIM_TENANTS: z
    .string()
    .default('ENBDTABBY,DEMOBANK')
    .transform((raw) =>
      raw
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    )
    .pipe(z.array(z.string().regex(TENANT)).min(1)),
  /** JSON object of fault settings, e.g. {"rate5xx":0.1}; validated by the simulator. */
  SAAS_SIM_FAULTS: z.string().default('{}'),
  SAAS_SIM_COMPLETION_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(200),
  // Pipeline tuning (not in the contract's table; defaults suit one bank on one machine).
  /** Jobs one worker process runs at once per queue. */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /**
   * How long a worker holds a job without renewing its lock; a worker that died releases its
   * jobs after this (BullMQ's stalled-job check).
   */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1_000).default(30_000),
  /** Unfinished work older than this with no live job is re-driven by the sweeper. */
  SWEEP_STALE_MS: z.coerce.number().int().min(1_000).default(30_000),
  /**
   * Times the sweeper re-drives an operation's submit job after it ended failed (each re-drive
   * is a full run of retries, the n-th no sooner than SWEEP_STALE_MS * 4^n after the last); then
   * the operation stays QUEUED, shown as stuck on the dashboard, for an operator.
   */
  SWEEP_MAX_REDRIVES: z.coerce.number().int().min(0).max(20).default(3),
  /**
   * Operations a card replacement's step may take (the first and its retries) before the plan
   * ends `FAILED` and says what it left at the network.
   */
  REPLACEMENT_STEP_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** How long after a failed step of a card replacement its retry starts. */
  REPLACEMENT_RETRY_DELAY_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  /** Failed tries of a webhook delivery before it is parked (kept, listed, never tried again). */
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1_000).default(24),
  /** Published outbox rows are deleted this long after they were published. */
  OUTBOX_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(3_600_000)
    .default(7 * 24 * 3_600_000),
  /**
   * Processed inbox rows are deleted this long after they were processed. At least two days:
   * the row is what makes a redelivery a no-op, and the SaaS redelivers for up to 27 hours.
   */
  WEBHOOK_INBOX_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(2 * 24 * 3_600_000)
    .default(7 * 24 * 3_600_000),
  /**
   * How long an M2P-compatible mutation waits for the SaaS to accept its request, so that it can
   * answer M2P's `requestTraceId`; past it the answer has `requestTraceId: null` and the operation
   * runs on (its id is in the answer).
   */
  M2P_ACCEPT_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  /** How often the batch feeder turns a window of each tenant's batch items into operations. */
  BATCH_FEED_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(250),
  /**
   * Every entity on CTP is reconciled with the network at least once per this long: a number of
   * milliseconds, or a number with `ms`, `s`, `m`, `h` or `d` (`7d`).
   */
  RECONCILE_PERIOD: z
    .string()
    .default('7d')
    .transform((value, ctx) => {
      const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)?$/.exec(value.trim());
      const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
      const ms =
        match === null ? Number.NaN : Number(match[1]) * unit[(match[2] ?? 'ms') as keyof typeof unit];
      if (!Number.isFinite(ms) || ms < 1_000 || ms > 366 * 86_400_000) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration from 1s to 366d, e.g. 7d, 12h, 30s' });
        return z.NEVER;
      }
      return Math.round(ms);
    }),
  /** The part of a tenant's SaaS rate that reconciliation may use (its `/getData` calls). */
  RECONCILE_SAAS_SHARE: z.coerce.number().gt(0).max(1).default(0.1),
  /** Completed reconciliations (with their entities and drifts) are deleted this long after they ended. */
  RECONCILE_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(3_600_000)
    .default(30 * 24 * 3_600_000),
  /** How often the reconciliation schedule ticks (one BullMQ job scheduler for every worker). */
  RECONCILE_TICK_MS: z.coerce.number().int().min(100).max(3_600_000).default(1_000),
  /**
   * SaaS operation submissions per second, per tenant, across all workers, for a tenant whose CTP
   * settings name no `saasRatePerSecond`.
   */
  SAAS_RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(100),
  SAAS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /**
   * Server-side limits on every database connection (statement, lock wait, idle inside a
   * transaction); 0 turns one off. A stalled process cannot hold an entity's lock for ever.
   */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  /** Deadline of one publication's Redis calls: a relay batch, or a writer's own committed rows. */
  OUTBOX_RELAY_REDIS_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /**
   * A relay's lease on the rows it claimed, and a writer's on the rows it publishes itself after
   * its commit (the relay takes them once it runs out); at least twice the Redis deadline.
   */
  OUTBOX_CLAIM_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(15_000),
  /** First `/status` poll of a new trace; the webhook usually resolves it before. */
  TRACE_FIRST_POLL_MS: z.coerce.number().int().min(0).default(5_000),
  TRACE_POLL_MAX_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * A trace still IN_PROGRESS this long after the SaaS accepted it fails with TIMEOUT, once
   * `/status` asked at the deadline says so (SUCCESS or FAILED there is applied instead).
   */
  TRACE_DEADLINE_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(15 * 60_000),
  /**
   * How long past the deadline the poller keeps asking `/status` while the SaaS cannot be
   * reached; then the trace fails with TIMEOUT and says that its outcome is unknown.
   */
  TRACE_DEADLINE_GRACE_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** The contract's stream; another name only to isolate test runs sharing one Redis. */
  NOTIFICATION_STREAM: z.string().min(1).default('m2p.notification.all'),
  /** Approximate MAXLEN of the notification stream (retention by count). */
  NOTIFICATION_STREAM_MAXLEN: z.coerce.number().int().min(1_000).default(1_000_000),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_{}-]+$/)
    .default('{ctp}'),
  ...tracingEnvSchema.shape,
});

export type Config = z.infer<typeof envSchema>;

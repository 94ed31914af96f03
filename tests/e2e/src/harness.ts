import { randomBytes } from 'node:crypto';
import { createApiApp } from '@ctp/api/app';
import { syncConfiguredApiKeys } from '@ctp/core/auth';
import { createPanCipher } from '@ctp/core/cards';
import { type Config, DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import {
  batchCompletedNotificationSchema,
  type NotificationPayload,
  notificationPayloadSchema,
} from '@ctp/core/contracts';
import { CtpOperation, CtpPendingSync } from '@ctp/core/entities';
import { createLogger } from '@ctp/core/logging';
import { createRedis } from '@ctp/core/queues';
import { startHttpServer } from '@ctp/core/runtime';
import { SaasClient } from '@ctp/core/saas';
import { createTestDatabase, keepTestLog, type TestDatabase } from '@ctp/db/testing';
import {
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
  TEST_API_KEY,
  TEST_WEBHOOK_SECRET,
} from '@ctp/saas-sim/testing';
import { startWorkerRuntime, type WorkerRuntime } from '@ctp/worker/runtime';
import type { Hono } from 'hono';
import type { Redis } from 'ioredis';

/**
 * The whole system in one test process, over real PostgreSQL (a database of its own), real
 * Redis (a key prefix and stream of their own) and real HTTP: the api, the worker runtime and
 * the SaaS simulator, whose webhooks reach the api's receiver.
 */

export const TENANT = 'ENBDTABBY';
const KEYS = Object.fromEntries(loadConfig({}).API_KEYS.map(({ tenant, key }) => [tenant, key]));

export interface PipelineOptions {
  /** Deliver the simulator's webhooks to the api (default true). */
  readonly webhooks?: boolean;
  readonly simulator?: Partial<SimulatorOptions>;
  /** Environment overrides for the worker's configuration. */
  readonly env?: Record<string, string>;
  /** Run the worker in this process (default true); false to run it as a child process. */
  readonly inProcessWorker?: boolean;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export interface StreamEntry {
  readonly streamId: string;
  readonly notificationId: string;
  readonly payload: NotificationPayload;
}

export interface Pipeline {
  readonly db: TestDatabase;
  readonly sim: RunningSimulator;
  readonly apiUrl: string;
  readonly config: Config;
  /** Environment for a worker child process running against this pipeline. */
  readonly workerEnv: Record<string, string>;
  readonly logLines: string[];
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** A customer with cards, through the api's records routes. */
  customer(entityId: string, kitNos: readonly string[]): Promise<void>;
  /**
   * Waits until the operation is SUCCESS or FAILED and its outcome is on the stream (the relay
   * publishes after the resolving commit); returns its view.
   */
  settled(operationId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  notifications(): Promise<StreamEntry[]>;
  /** Waits until the stream holds the entry with this `notificationId`. */
  notification(notificationId: string, timeoutMs?: number): Promise<StreamEntry>;
  /** Waits until the stream holds at least `count` entries. */
  waitForNotifications(count: number, timeoutMs?: number): Promise<StreamEntry[]>;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export async function startPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const db = await createTestDatabase();
  const suffix = randomBytes(4).toString('hex');
  const logLines: string[] = [];
  const logger = createLogger({
    name: 'e2e',
    level: 'info',
    destination: { write: (l) => void logLines.push(l) },
  });
  const panKey = randomBytes(32).toString('base64');
  await syncConfiguredApiKeys(db.orm.em, loadConfig({}).API_KEYS, DEV_DEFAULTS.API_KEY_PEPPER);

  // The api listens before it exists, so the simulator can be told its webhook URL.
  let app: Hono | undefined;
  const server = await startHttpServer(
    {
      fetch: (request: Request, env: unknown) =>
        app ? app.fetch(request, env) : new Response(null, { status: 503 }),
    },
    { port: 0, hostname: '127.0.0.1', logger },
  );
  const apiUrl = `http://127.0.0.1:${server.port}`;
  const sim = await startSimulator({
    webhookUrl: options.webhooks === false ? null : `${apiUrl}/v1/ctp/webhooks/saas`,
    ...options.simulator,
  });
  const saas = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY });
  app = createApiApp({
    orm: db.orm,
    logger,
    panCipher: createPanCipher({ current: panKey }),
    saas,
    webhookSecret: TEST_WEBHOOK_SECRET,
    apiKeyPepper: DEV_DEFAULTS.API_KEY_PEPPER,
  }) as unknown as Hono;

  const workerEnv: Record<string, string> = {
    DATABASE_URL: db.databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `{e2e-${suffix}}`,
    NOTIFICATION_STREAM: `e2e-notifications-${suffix}`,
    CTP_SAAS_BASE_URL: sim.url,
    CTP_SAAS_API_KEY: TEST_API_KEY,
    CTP_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    PAN_ENCRYPTION_KEY: panKey,
    TRACE_FIRST_POLL_MS: '400',
    TRACE_POLL_MAX_INTERVAL_MS: '1000',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const config = loadConfig(workerEnv);
  const redis: Redis = createRedis(config.REDIS_URL);
  let worker: WorkerRuntime | undefined;
  const startWorker = async () => {
    worker = await startWorkerRuntime({ config, orm: db.orm, logger });
  };
  if (options.inProcessWorker !== false) await startWorker();

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${KEYS[TENANT]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };

  const notifications = async (): Promise<StreamEntry[]> => {
    const entries = await redis.xrange(config.NOTIFICATION_STREAM, '-', '+');
    // Operations' outcomes only: a batch's completion entry (the batch tests read it themselves)
    // shares the stream; anything else that does not parse fails the test.
    return entries.flatMap(([streamId, fields]) => {
      const get = (name: string) => fields[fields.indexOf(name) + 1] ?? '';
      const payload: unknown = JSON.parse(get('payload'));
      if (batchCompletedNotificationSchema.safeParse(payload).success) return [];
      return [
        {
          streamId,
          notificationId: get('notificationId'),
          payload: notificationPayloadSchema.parse(payload),
        },
      ];
    });
  };

  const notification = async (notificationId: string, timeoutMs = 20_000): Promise<StreamEntry> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entry = (await notifications()).find((n) => n.notificationId === notificationId);
      if (entry) return entry;
      if (Date.now() > deadline) throw new Error(`no notification ${notificationId} on the stream`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  return {
    db,
    sim,
    apiUrl,
    config,
    workerEnv,
    logLines,
    call,
    async customer(entityId, kitNos) {
      const entity = await call('PUT', `/v1/entities/${entityId}`, {
        firstName: 'Aisha',
        lastName: 'Khan',
        email: `${entityId}@example.com`,
        phone: { countryCode: '971', number: '501234567' },
        address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
        locale: 'en_AE',
        countryCode: 'AE',
        consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' },
      });
      if (entity.status >= 300)
        throw new Error(`PUT entity answered ${entity.status}: ${JSON.stringify(entity.body)}`);
      for (const [i, kitNo] of kitNos.entries()) {
        const pan = ['4111111111111111', '4012888888881881', '5555555555554444'][i % 3] ?? '4111111111111111';
        const kit = await call('PUT', `/v1/entities/${entityId}/kits/${kitNo}`, {
          pan,
          expiry: { month: '12', year: '2030' },
          nameOnCard: 'AISHA KHAN',
        });
        if (kit.status >= 300) throw new Error(`PUT kit answered ${kit.status}: ${JSON.stringify(kit.body)}`);
      }
    },
    async settled(operationId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const operation = await db.orm.em.fork().findOne(CtpOperation, { id: operationId });
        if (operation && (operation.status === 'SUCCESS' || operation.status === 'FAILED')) {
          await notification(operationId, Math.max(0, deadline - Date.now()));
          return (await call('GET', `/v1/ctp/operations/${operationId}`)).body;
        }
        if (Date.now() > deadline) {
          // What the processes said about it, so a stuck operation can be diagnosed from CI output.
          const said = logLines.filter((line) => line.includes(operationId)).slice(-20);
          throw new Error(
            `operation ${operationId} is still ${operation?.status ?? 'missing'}; its log lines:\n${said.join('')}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    notifications,
    notification,
    async waitForNotifications(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const entries = await notifications();
        if (entries.length >= count) return entries;
        if (Date.now() > deadline) throw new Error(`${entries.length} notifications, expected ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stopWorker() {
      await worker?.close();
      worker = undefined;
    },
    startWorker,
    async close() {
      await worker?.close();
      await server.close();
      await saas.close();
      await sim.close();
      const keys = await redis.keys(`${workerEnv.QUEUE_PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.del(config.NOTIFICATION_STREAM);
      const dedupe = await redis.keys(`{${config.NOTIFICATION_STREAM}}*`);
      if (dedupe.length > 0) await redis.del(...dedupe);
      await redis.quit();
      await keepTestLog('e2e', logLines);
      await db.drop();
    },
  };
}

/** A customer as the simulator holds it. */
export type NetworkConsumer = NonNullable<
  ReturnType<RunningSimulator['simulator']['state']>['tenants'][string]
>['consumers'][number];

export interface EntitySteps {
  operationsOf(entityId: string): Promise<CtpOperation[]>;
  networkConsumer(entityId: string): NetworkConsumer | undefined;
  /** A customer with its cards, each enrolled (the first by registration) and settled SUCCESS. */
  enrolled(entityId: string, kits: readonly string[]): Promise<void>;
  /** Waits until every operation of the entity ended and nothing is pending for it. */
  quiet(entityId: string, timeoutMs?: number): Promise<CtpOperation[]>;
  /** Requests the simulator answered on this endpoint, over every tenant. */
  requestsTo(endpoint: string): number;
}

/**
 * What the lifecycle tests do to and read about one entity, over a pipeline started later (in a
 * `beforeAll`): `pipeline` is read at each call.
 */
export function entitySteps(pipeline: () => Pipeline): EntitySteps {
  const operationsOf = (entityId: string) =>
    pipeline()
      .db.orm.em.fork()
      .find(CtpOperation, { tenant: TENANT, entityId }, { orderBy: { createdAt: 'asc' } });
  const networkConsumer = (entityId: string) =>
    pipeline()
      .sim.simulator.state()
      .tenants[TENANT]?.consumers.find((c) => c.externalConsumerId === entityId);
  return {
    operationsOf,
    networkConsumer,
    async enrolled(entityId: string, kits: readonly string[]): Promise<void> {
      const p = pipeline();
      await p.customer(entityId, kits);
      for (const [i, kitNo] of kits.entries()) {
        const path =
          i === 0 ? `/v1/ctp/entities/${entityId}/registration` : `/v1/ctp/entities/${entityId}/kits`;
        const accepted = await p.call('POST', path, { kitNo });
        if (accepted.status !== 202)
          throw new Error(`${path}: ${accepted.status} ${JSON.stringify(accepted.body)}`);
        const settled = await p.settled(String(accepted.body.operationId));
        if (settled.status !== 'SUCCESS') throw new Error(`${path}: ${JSON.stringify(settled)}`);
      }
    },
    async quiet(entityId: string, timeoutMs = 20_000): Promise<CtpOperation[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Pending first: a promotion deletes the pending row and creates the operation in one
        // commit, so reading in this order can never miss both.
        const pending = await pipeline().db.orm.em.fork().count(CtpPendingSync, { tenant: TENANT, entityId });
        const ops = await operationsOf(entityId);
        if (pending === 0 && ops.every((op) => op.status === 'SUCCESS' || op.status === 'FAILED')) return ops;
        if (Date.now() > deadline)
          throw new Error(`${entityId} is not quiet: ${ops.map((o) => `${o.event}:${o.status}`).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    requestsTo(endpoint: string): number {
      return Object.values(pipeline().sim.simulator.state().counters.requests[endpoint] ?? {}).reduce(
        (a, b) => a + b,
        0,
      );
    },
  };
}

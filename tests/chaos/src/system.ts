import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMigratedDatabase, databaseName, dropDatabase } from '@ctp/db';
import { say } from './clock.ts';
import { freePort } from './ports.ts';
import { type RedisServer, redisServer } from './redis-server.ts';
import { SupervisedProcess } from './supervised-process.ts';
import { TIMINGS } from './timings.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const main = (app: string) => join(ROOT, 'apps', app, 'src', 'main.ts');

/** The contract's stream name: the suite has a Redis of its own, so it need not isolate it. */
export const NOTIFICATION_STREAM = 'm2p.notification.all';

export interface System {
  readonly databaseUrl: string;
  readonly redis: RedisServer;
  readonly simUrl: string;
  readonly apiUrl: string;
  readonly sim: SupervisedProcess;
  readonly api: SupervisedProcess;
  readonly workers: readonly SupervisedProcess[];
  /** Every process whose output is captured, Redis included. */
  readonly processes: readonly SupervisedProcess[];
  stop(): Promise<void>;
  dropDatabase(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
  return response.ok;
}

/**
 * The real entry points as separate processes (`node apps/<app>/src/main.ts`), as an operator
 * runs them: a Redis of the suite's own, a fresh migrated database on the machine's PostgreSQL,
 * the SaaS simulator, the api and two workers. Secrets are fresh per run.
 */
export async function startSystem(input: { workDir: string; serverUrl: string }): Promise<System> {
  const logDir = join(input.workDir, 'logs');
  const redisDir = join(input.workDir, 'redis');
  await mkdir(logDir, { recursive: true });
  await mkdir(redisDir, { recursive: true });

  const [redisPort, simPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const redis = redisServer({ port: redisPort, dir: redisDir, logDir, cwd: ROOT });
  await redis.process.start();
  say(`redis-server on ${redisPort}, AOF in ${redisDir}`);

  const database = await createMigratedDatabase(input.serverUrl, 'ctp_chaos');
  // The suite reads with short-lived connections of its own: a pool would be cut by the chaos.
  await database.orm.close(true);
  say(`database ${databaseName(database.databaseUrl)} migrated`);

  const simUrl = `http://127.0.0.1:${simPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'debug',
    DATABASE_URL: database.databaseUrl,
    REDIS_URL: redis.url,
    NOTIFICATION_STREAM,
    API_PORT: String(apiPort),
    SAAS_SIM_PORT: String(simPort),
    WORKER_PORT: '0',
    CTP_SAAS_BASE_URL: simUrl,
    WEBHOOK_URL: `${apiUrl}/v1/ctp/webhooks/saas`,
    CTP_SAAS_API_KEY: randomBytes(24).toString('hex'),
    CTP_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    PAN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    SAAS_SIM_FAULTS: '{}',
    ...Object.fromEntries(Object.entries(TIMINGS).map(([name, value]) => [name, String(value)])),
  };
  const app = (name: string, appDir: string, ready: Pick<SupervisedProcess['spec'], 'ready' | 'readyLine'>) =>
    new SupervisedProcess({
      name,
      command: process.execPath,
      args: [main(appDir)],
      env,
      cwd: ROOT,
      logDir,
      ...ready,
    });
  const sim = app('saas-sim', 'saas-sim', { ready: () => healthy(simUrl) });
  const api = app('api', 'api', { ready: () => healthy(apiUrl) });
  // WORKER_PORT=0: each worker's health endpoint takes a free port and says so when it listens.
  const workers = [1, 2].map((n) => app(`worker-${n}`, 'worker', { readyLine: /"msg":"listening"/ }));

  await sim.start();
  await api.start();
  await Promise.all(workers.map((worker) => worker.start()));
  say(`saas-sim ${simUrl}, api ${apiUrl}, ${workers.length} workers: up`);

  const processes = [redis.process, sim, api, ...workers];
  return {
    databaseUrl: database.databaseUrl,
    redis,
    simUrl,
    apiUrl,
    sim,
    api,
    workers,
    processes,
    async stop() {
      // Writers first, Redis last, so nothing logs a lost connection on the way out.
      await Promise.all([api, ...workers].map((p) => p.stop()));
      await sim.stop();
      await redis.process.stop();
    },
    dropDatabase: () => dropDatabase(database.databaseUrl),
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@ctp/core/config';
import { createRedis } from '@ctp/core/queues';
import { createMigratedDatabase } from '@ctp/db';
import type { Redis } from 'ioredis';

/**
 * End to end on this machine: the real processes (api, one worker, the SaaS simulator with 20 ms
 * latency and webhooks on, faults off) against a fresh database and a key prefix of their own.
 * Measures registrations/s from the API call to the notification on the stream, then the
 * latency distribution at half that rate, and the PostgreSQL commits each operation costs.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const KEY = loadConfig({}).API_KEYS[0];

export interface E2eResult {
  readonly operations: number;
  readonly opsPerSecond: number;
  readonly halfRate: {
    readonly rate: number;
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly operations: number;
  };
  readonly commitsPerOperation: number;
  /** CPU time of the whole machine (every process) per operation during the maximum-rate run. */
  readonly machineCpuMsPerOperation: number | null;
  /** The same by process (the rest is PostgreSQL, Redis and the kernel's own work). */
  readonly cpuMsPerOperationByProcess: Readonly<Record<string, number>> | null;
}

/** CPU time (user + system) of a process so far, in ms (Linux `/proc/<pid>/stat`; null elsewhere). */
async function processCpuMs(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at index 3 of the full list.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/**
 * Busy CPU time of the whole machine so far, in ms (Linux `/proc/stat`; null elsewhere). A
 * steadier figure than throughput on a machine whose speed varies: it counts the work, not the
 * wall time.
 */
async function machineBusyMs(): Promise<number | null> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return (ticks * 1000) / 100; // USER_HZ
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function startProcess(app: string, env: Record<string, string>): ChildProcess {
  // BENCH_LOG_DIR=<dir> keeps each process's log lines there, for a look at where the time went.
  const logDir = process.env.BENCH_LOG_DIR;
  const stdout = logDir ? openSync(`${logDir}/${app}.log`, 'w') : 'ignore';
  const child = spawn(process.execPath, [`${root}apps/${app}/src/main.ts`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${app}] ${chunk.toString()}`));
  return child;
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never became ready`);
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${KEY?.key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (response.status >= 300)
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** Follows the stream and resolves each operation id's waiter when its notification appears. */
function followStream(redis: Redis, stream: string) {
  const seen = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  let stopped = false;
  const loop = (async () => {
    let last = '0';
    while (!stopped) {
      const reply = (await redis.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', stream, last)) as
        | [string, [string, string[]][]][]
        | null;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          last = id;
          const operationId = fields[fields.indexOf('notificationId') + 1] ?? '';
          const at = performance.now();
          seen.set(operationId, at);
          waiters.get(operationId)?.(at);
        }
      }
    }
  })();
  return {
    done: (operationId: string) =>
      new Promise<number>((resolve) => {
        const at = seen.get(operationId);
        if (at !== undefined) resolve(at);
        else waiters.set(operationId, resolve);
      }),
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

export async function measureEndToEnd(
  serverUrl: string,
  redisUrl: string,
  operations: number,
): Promise<E2eResult> {
  const suffix = randomBytes(4).toString('hex');
  const db = await createMigratedDatabase(serverUrl, 'ctp_bench');
  const [apiPort, simPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  // Workers scale out (the relay and the queues share the work); BENCH_WORKERS of them.
  const workers = Math.max(1, Number(process.env.BENCH_WORKERS ?? 1));
  const env = {
    DATABASE_URL: db.databaseUrl,
    REDIS_URL: redisUrl,
    API_PORT: String(apiPort),
    SAAS_SIM_PORT: String(simPort),
    WORKER_PORT: String(workerPort),
    CTP_SAAS_BASE_URL: `http://127.0.0.1:${simPort}`,
    WEBHOOK_URL: `http://127.0.0.1:${apiPort}/v1/ctp/webhooks/saas`,
    QUEUE_PREFIX: `{bench-${suffix}}`,
    NOTIFICATION_STREAM: `bench-notifications-${suffix}`,
    SAAS_SIM_FAULTS: JSON.stringify({ latencyMs: { min: 20, max: 20 } }),
    SAAS_SIM_COMPLETION_DELAY_MS: '20',
    SAAS_RATE_LIMIT_PER_SECOND: '100000',
    API_RATE_LIMIT_PER_SECOND: '1000000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const processes = [
    startProcess('saas-sim', env),
    startProcess('api', env),
    startProcess('worker', env),
    ...Array.from({ length: workers - 1 }, () => startProcess('worker', { ...env, WORKER_PORT: '0' })),
  ];
  const redis = createRedis(redisUrl);
  const api = `http://127.0.0.1:${apiPort}`;
  try {
    await Promise.all([
      waitReady(`http://127.0.0.1:${simPort}`),
      waitReady(api),
      waitReady(`http://127.0.0.1:${workerPort}`),
    ]);
    const halfCount = Math.max(100, Math.floor(operations / 2));
    const ids = Array.from({ length: operations + halfCount }, (_, i) => `b${i}`);
    await inParallel(ids, 32, async (id) => {
      await call(api, 'PUT', `/v1/entities/${id}`, {
        firstName: 'Bench',
        lastName: 'Customer',
        email: `${id}@example.com`,
        phone: { countryCode: '971', number: '501234567' },
        address: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
        locale: 'en_AE',
        countryCode: 'AE',
      });
      await call(api, 'PUT', `/v1/entities/${id}/kits/${id}k`, {
        pan: '4111111111111111',
        expiry: { month: '12', year: '2030' },
        nameOnCard: 'BENCH',
      });
    });
    const stream = followStream(redis, env.NOTIFICATION_STREAM);
    const commits = async () => {
      const rows = await db.orm.em
        .getConnection()
        .execute<{ n: string }[]>(
          'select xact_commit::text as n from pg_stat_database where datname = current_database()',
        );
      return Number(rows[0]?.n ?? 0);
    };
    const commitsBefore = await commits();
    const busyBefore = await machineBusyMs();
    const named = [
      ...processes.map((child, i) => ({
        name: ['saas-sim', 'api', 'worker'][i] ?? 'worker',
        pid: child.pid,
      })),
      { name: 'load generator', pid: process.pid },
    ];
    const perProcessBefore = await Promise.all(named.map(({ pid }) => processCpuMs(pid)));

    // Maximum rate: a closed loop of 64 clients, each waiting for the 202 only.
    const maxIds = ids.slice(0, operations);
    const started = performance.now();
    const done: Promise<number>[] = [];
    await inParallel(maxIds, 64, async (id) => {
      const accepted = await call(api, 'POST', `/v1/ctp/entities/${id}/registration`, { kitNo: `${id}k` });
      done.push(stream.done(String(accepted.operationId)));
    });
    const finished = Math.max(...(await Promise.all(done)));
    const opsPerSecond = operations / ((finished - started) / 1000);
    const busyAfter = await machineBusyMs();
    const perProcessAfter = await Promise.all(named.map(({ pid }) => processCpuMs(pid)));
    const machineCpuMsPerOperation =
      busyBefore === null || busyAfter === null ? null : (busyAfter - busyBefore) / operations;
    let cpuMsPerOperationByProcess: Record<string, number> | null = null;
    if (machineCpuMsPerOperation !== null && perProcessAfter.every((v) => v !== null)) {
      cpuMsPerOperationByProcess = {};
      for (const [i, { name }] of named.entries()) {
        const spent = ((perProcessAfter[i] ?? 0) - (perProcessBefore[i] ?? 0)) / operations;
        cpuMsPerOperationByProcess[name] = (cpuMsPerOperationByProcess[name] ?? 0) + spent;
      }
      const ours = Object.values(cpuMsPerOperationByProcess).reduce((a, b) => a + b, 0);
      cpuMsPerOperationByProcess['rest (PostgreSQL, Redis, kernel)'] = machineCpuMsPerOperation - ours;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const commitsPerOperation = ((await commits()) - commitsBefore) / operations;

    // Half that rate, open loop: one request every 1/rate seconds, latency to the notification.
    const rate = opsPerSecond / 2;
    const halfIds = ids.slice(operations);
    const latencies: Promise<number>[] = [];
    const t0 = performance.now();
    for (const [i, id] of halfIds.entries()) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const sent = performance.now();
      latencies.push(
        call(api, 'POST', `/v1/ctp/entities/${id}/registration`, { kitNo: `${id}k` }).then(
          async (accepted) => (await stream.done(String(accepted.operationId))) - sent,
        ),
      );
    }
    const sorted = (await Promise.all(latencies)).sort((a, b) => a - b);
    await stream.stop();
    return {
      operations,
      opsPerSecond,
      commitsPerOperation,
      machineCpuMsPerOperation,
      cpuMsPerOperationByProcess,
      halfRate: {
        rate,
        operations: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
      },
    };
  } finally {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(
      processes.map(
        (child) =>
          new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
      ),
    );
    for (const key of await redis.keys(`{bench-${suffix}}*`)) await redis.del(key);
    await redis.del(env.NOTIFICATION_STREAM);
    for (const key of await redis.keys(`{${env.NOTIFICATION_STREAM}}*`)) await redis.del(key);
    await redis.quit();
    // BENCH_KEEP_DB=1 keeps the database for a look at where the time went (stage timestamps).
    if (process.env.BENCH_KEEP_DB === '1') {
      console.log(`kept database ${db.databaseUrl}`);
      await db.orm.close();
    } else {
      await db.drop();
    }
  }
}

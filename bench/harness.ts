import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@ctp/core/config';
import type { Redis } from 'ioredis';

/**
 * What the end-to-end bench and the naive baseline share, so that only the platform side
 * differs between them: the simulator's settings and start-up, the child processes, the load
 * generator (64 clients at the maximum rate, then an open loop at half that rate) and the rule
 * that an operation is done when its entry is read from the notification stream.
 */

export const root = fileURLToPath(new URL('..', import.meta.url));
const KEY = loadConfig({}).API_KEYS[0];

/** The simulator as both runs use it: 20 ms latency on every answer, 20 ms until a trace completes, webhooks on, faults off. */
export const SIMULATOR_ENV = {
  SAAS_SIM_FAULTS: JSON.stringify({ latencyMs: { min: 20, max: 20 } }),
  SAAS_SIM_COMPLETION_DELAY_MS: '20',
} as const;

export interface LoadResult {
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
  /**
   * Peak resident memory of each process we start, in MB (`VmHWM` of `/proc/<pid>/status` read at
   * the end of the run, before the processes stop; null elsewhere). Processes of the same name
   * (several workers) report the largest.
   */
  readonly peakRssMbByProcess: Readonly<Record<string, number>> | null;
}

/** Peak resident set size of a process so far, in MB (Linux `VmHWM`; null elsewhere or once it exited). */
async function peakRssMb(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

/** The peak RSS of each named process (the largest of those sharing a name). */
export async function peakRssByProcess(
  processes: readonly { readonly name: string; readonly pid: number | undefined }[],
): Promise<Record<string, number> | null> {
  const peaks = await Promise.all(processes.map(({ pid }) => peakRssMb(pid)));
  if (peaks.some((peak) => peak === null)) return null;
  const byName: Record<string, number> = {};
  for (const [i, { name }] of processes.entries()) {
    byName[name] = Math.max(byName[name] ?? 0, peaks[i] ?? 0);
  }
  return byName;
}

/** CPU time (user + system) of a process so far, in ms (Linux `/proc/<pid>/stat`; null elsewhere). */
export async function processCpuMs(pid: number | undefined): Promise<number | null> {
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
 * CPU time of the machine's PostgreSQL and Redis so far, in ms (Linux only; null elsewhere):
 * every live process of that name, plus for PostgreSQL the children the postmaster has reaped
 * (its `cutime` + `cstime`: pooled connections end every minute, and their backends' time would
 * be lost otherwise).
 */
export async function servicesCpuMs(): Promise<{ postgres: number; redis: number } | null> {
  try {
    const totals = { postgres: 0, redis: 0 };
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // ended while we looked
      }
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const service = name === 'postgres' ? 'postgres' : name === 'redis-server' ? 'redis' : null;
      if (service === null) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const own = Number(fields[11]) + Number(fields[12]);
      // The postmaster (parent not postgres) also carries its reaped children's time.
      const children = service === 'postgres' ? Number(fields[13]) + Number(fields[14]) : 0;
      totals[service] += ((own + children) * 1000) / 100;
    }
    return totals;
  } catch {
    return null;
  }
}

/**
 * Busy CPU time of the whole machine so far, in ms (Linux `/proc/stat`; null elsewhere). A
 * steadier figure than throughput on a machine whose speed varies: it counts the work, not the
 * wall time.
 */
export async function machineBusyMs(): Promise<number | null> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return (ticks * 1000) / 100; // USER_HZ
  } catch {
    return null;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A child process we measure: `name` labels its CPU share and its log file. */
export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
}

/** Runs `script` (relative to the repository root) with `args` under this Node, with `env` added. */
export function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  args: readonly string[] = [],
  nodeFlags: readonly string[] = [],
): Started {
  // BENCH_LOG_DIR=<dir> keeps each process's log lines there, for a look at where the time went.
  const logDir = process.env.BENCH_LOG_DIR;
  const stdout = logDir ? openSync(`${logDir}/${name}.log`, 'w') : 'ignore';
  // BENCH_HEAP_SNAPSHOT_DIR=<dir>: each process writes a heap snapshot there at the end of the
  // run (SIGUSR2, before it stops), to see what holds its memory.
  const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  const nodeArgs = snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, ...nodeArgs, `${root}${script}`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk.toString()}`));
  return { name, child };
}

/** One of the project's apps (`apps/<app>/src/main.ts`). */
/**
 * The Node flags an app is started with in production: those of its `start` script
 * (`node <flags> src/main.ts`), so the bench runs it with the same heap settings as `pnpm start`.
 */
export function startFlagsOf(app: string): string[] {
  const manifest = JSON.parse(readFileSync(`${root}apps/${app}/package.json`, 'utf8')) as {
    scripts?: { start?: string };
  };
  const words = (manifest.scripts?.start ?? '').split(/\s+/);
  const flags = words.slice(words.indexOf('node') + 1, words.indexOf('src/main.ts'));
  // `--import ./src/tracing.ts` (the tracing preload) is relative to the app's directory.
  return flags.map((w, i) =>
    flags[i - 1] === '--import' ? `${root}apps/${app}/${w.replace(/^\.\//, '')}` : w,
  );
}

export const startApp = (app: string, env: Record<string, string>, name = app): Started =>
  startProcess(name, `apps/${app}/src/main.ts`, env, [], startFlagsOf(app));

/** The project's simulator on `port`, its webhooks to `webhookUrl`, with the settings both runs share. */
export const startSimulator = (
  port: number,
  webhookUrl: string,
  env: Record<string, string> = {},
  name = 'saas-sim',
): Started =>
  startApp(
    'saas-sim',
    { ...env, ...SIMULATOR_ENV, SAAS_SIM_PORT: String(port), WEBHOOK_URL: webhookUrl },
    name,
  );

/** With BENCH_HEAP_SNAPSHOT_DIR, each process writes its heap snapshot; waits until all are written. */
async function writeHeapSnapshots(processes: readonly Started[]): Promise<void> {
  const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  if (!dir) return;
  for (const { name, child } of processes) {
    if (child.pid === undefined) continue;
    const before = new Set(await readdir(dir));
    child.kill('SIGUSR2');
    // The process writes the file while it does nothing else; done when its size stops changing.
    let size = -1;
    for (let i = 0; i < 600; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const file = (await readdir(dir)).find((f) => !before.has(f) && f.includes(`.${child.pid}.`));
      if (file === undefined) continue;
      const now = (await stat(`${dir}/${file}`)).size;
      if (now === size && now > 0) {
        console.log(`heap snapshot of ${name}: ${dir}/${file}`);
        break;
      }
      size = now;
    }
  }
}

export async function stopProcesses(processes: readonly Started[]): Promise<void> {
  for (const { child } of processes) child.kill('SIGTERM');
  await Promise.all(
    processes.map(
      ({ child }) =>
        new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
    ),
  );
}

export async function waitReady(url: string): Promise<void> {
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

/** One request of the load generator (the same client, headers included, for both runs). */
export async function call(
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

export async function inParallel<T>(
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

/** The customers one run registers: `operations` for the maximum rate, then those of the half-rate run. */
export function customerIds(operations: number): string[] {
  const halfCount = Math.max(100, Math.floor(operations / 2));
  return Array.from({ length: operations + halfCount }, (_, i) => `b${i}`);
}

/** Follows the stream and resolves each operation id's waiter when its notification appears. */
export function followStream(redis: Redis, stream: string) {
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

export type StreamFollower = ReturnType<typeof followStream>;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

export interface LoadOptions {
  /** Size of the maximum-rate run; the rest of `ids` goes to the half-rate run. */
  readonly operations: number;
  readonly ids: readonly string[];
  /** Starts one operation for customer `id`; resolves with the id its stream entry carries. */
  readonly submit: (id: string) => Promise<string>;
  readonly stream: StreamFollower;
  /** The processes whose CPU time is split out (the load generator, this process, is added). */
  readonly processes: readonly Started[];
  /** PostgreSQL commits of the run's database so far. */
  readonly commits: () => Promise<number>;
}

/**
 * The maximum rate (a closed loop of 64 clients, each waiting for the 202 only, the run ending
 * when the last notification is read), the commits and CPU it cost, then the latency from the
 * call to the notification in an open loop at half that rate.
 */
export async function measureLoad(options: LoadOptions): Promise<LoadResult> {
  const { operations, ids, submit, stream } = options;
  const commitsBefore = await options.commits();
  const busyBefore = await machineBusyMs();
  const named = [
    ...options.processes.map(({ name, child }) => ({ name, pid: child.pid })),
    { name: 'load generator', pid: process.pid },
  ];
  const perProcessBefore = await Promise.all(named.map(({ pid }) => processCpuMs(pid)));
  const servicesBefore = await servicesCpuMs();

  const maxIds = ids.slice(0, operations);
  const started = performance.now();
  const done: Promise<number>[] = [];
  await inParallel(maxIds, 64, async (id) => {
    done.push(stream.done(await submit(id)));
  });
  const finished = Math.max(...(await Promise.all(done)));
  const opsPerSecond = operations / ((finished - started) / 1000);
  const busyAfter = await machineBusyMs();
  const perProcessAfter = await Promise.all(named.map(({ pid }) => processCpuMs(pid)));
  const servicesAfter = await servicesCpuMs();
  const machineCpuMsPerOperation =
    busyBefore === null || busyAfter === null ? null : (busyAfter - busyBefore) / operations;
  let cpuMsPerOperationByProcess: Record<string, number> | null = null;
  if (machineCpuMsPerOperation !== null && perProcessAfter.every((v) => v !== null)) {
    cpuMsPerOperationByProcess = {};
    for (const [i, { name }] of named.entries()) {
      const spent = ((perProcessAfter[i] ?? 0) - (perProcessBefore[i] ?? 0)) / operations;
      cpuMsPerOperationByProcess[name] = (cpuMsPerOperationByProcess[name] ?? 0) + spent;
    }
    if (servicesBefore !== null && servicesAfter !== null) {
      cpuMsPerOperationByProcess.PostgreSQL = (servicesAfter.postgres - servicesBefore.postgres) / operations;
      cpuMsPerOperationByProcess.Redis = (servicesAfter.redis - servicesBefore.redis) / operations;
    }
    const counted = Object.values(cpuMsPerOperationByProcess).reduce((a, b) => a + b, 0);
    cpuMsPerOperationByProcess[
      servicesBefore === null ? 'rest (PostgreSQL, Redis, kernel)' : 'rest (kernel, other processes)'
    ] = machineCpuMsPerOperation - counted;
  }
  // An idle backend reports its commits to the statistics up to 10 s late (PostgreSQL 15+).
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const commitsPerOperation = ((await options.commits()) - commitsBefore) / operations;

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
    latencies.push(submit(id).then(async (operationId) => (await stream.done(operationId)) - sent));
  }
  const sorted = (await Promise.all(latencies)).sort((a, b) => a - b);
  const peakRssMbByProcess = await peakRssByProcess(named);
  await writeHeapSnapshots(options.processes);
  return {
    operations,
    opsPerSecond,
    commitsPerOperation,
    machineCpuMsPerOperation,
    cpuMsPerOperationByProcess,
    peakRssMbByProcess,
    halfRate: {
      rate,
      operations: sorted.length,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
    },
  };
}

/** The figures of one run, each line starting with `label` (empty for the real pipeline). */
export function printLoad(label: string, title: string, result: LoadResult): void {
  const lead = label === '' ? '' : `${label} `;
  console.log(
    `${lead}registrations/s (${title}, ${result.operations} operations): ${result.opsPerSecond.toFixed(0)}`,
  );
  console.log(`${lead}PostgreSQL commits per operation: ${result.commitsPerOperation.toFixed(1)}`);
  if (result.machineCpuMsPerOperation !== null) {
    console.log(
      `${lead}machine CPU per operation (every process, maximum-rate run): ${result.machineCpuMsPerOperation.toFixed(1)} ms`,
    );
  }
  if (result.cpuMsPerOperationByProcess !== null) {
    const parts = Object.entries(result.cpuMsPerOperationByProcess).map(
      ([name, ms]) => `${name} ${ms.toFixed(1)}`,
    );
    console.log(`  of which, ms per operation: ${parts.join(', ')}`);
  }
  if (result.peakRssMbByProcess !== null) {
    const parts = Object.entries(result.peakRssMbByProcess).map(([name, mb]) => `${name} ${mb.toFixed(0)}`);
    console.log(`${lead}peak RSS, MB: ${parts.join(', ')}`);
  }
  const half = result.halfRate;
  console.log(
    `${lead}latency at half the maximum rate (${half.rate.toFixed(0)}/s, ${half.operations} operations): p50 ${half.p50.toFixed(0)} ms, p95 ${half.p95.toFixed(0)} ms, p99 ${half.p99.toFixed(0)} ms`,
  );
}

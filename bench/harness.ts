import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, openSync, readFileSync } from 'node:fs';
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
  /** The rate of each maximum-rate slice, in the order run. */
  readonly sliceRates: readonly number[];
  /**
   * CPU per operation of the other pipeline's processes (idle, their timers running) during this
   * one's slices, included in the machine's CPU above; null when measured alone.
   */
  readonly idleOthersCpuMsPerOperation: number | null;
  /** PostgreSQL checkpoints during the maximum-rate slices (of every pipeline: the server's). */
  readonly checkpoints: number;
  readonly halfRate: {
    readonly rate: number;
    /** PostgreSQL checkpoints during the half-rate run. */
    readonly checkpoints: number;
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    /** Call to `202`. */
    readonly acceptedP50: number;
    readonly acceptedP99: number;
    /** Call to the entry's own time on the stream (its id), the reader's lag left out. */
    readonly addedP50: number;
    readonly addedP99: number;
    readonly operations: number;
  };
  readonly commitsPerOperation: number;
  /** CPU time of the whole machine (every process) per operation during the maximum-rate run. */
  readonly machineCpuMsPerOperation: number | null;
  /** The same by process (the rest is PostgreSQL, Redis and the kernel's own work). */
  readonly cpuMsPerOperationByProcess: Readonly<Record<string, number>> | null;
  /** Reading and writing system calls per operation of each process we start (null elsewhere). */
  readonly syscallsPerOperationByProcess: Readonly<Record<string, { reads: number; writes: number }>> | null;
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
 * System calls a process has made so far that read or write (`syscr`, `syscw` of Linux
 * `/proc/<pid>/io`, every thread; null elsewhere). On the loopback a socket write also does the
 * receiver's TCP work, so writes per operation say much of what the round trips cost.
 */
export async function processSyscalls(
  pid: number | undefined,
): Promise<{ reads: number; writes: number } | null> {
  if (pid === undefined) return null;
  try {
    const io = await readFile(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
    return { reads: field('syscr'), writes: field('syscw') };
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

/** The first port the kernel hands to outgoing connections (Linux; 32768 elsewhere). */
function ephemeralPortsStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A port for a child to listen on, below the kernel's range for outgoing connections. A port the
 * kernel picked (`listen(0)`) comes from that range, and the load generator's thousands of
 * connections could take it between this check and the child's `listen`: a child then died of
 * `EADDRINUSE` and the bench waited for it until killed. Below the range only another listener can
 * take it.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralPortsStart();
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (high - 10_000));
    if (await canListen(port)) return port;
  }
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
  // BENCH_CPU_PROFILE_DIR=<dir>: each process writes a V8 CPU profile there when it stops
  // (`<name>.<started>.cpuprofile`), and the measured windows (the maximum-rate slices, the batch)
  // go to `slices.jsonl`, so a profile can be cut to them (`node bench/profile-slices.ts <dir>`).
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  if (profileDir)
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
      `--cpu-prof-name=${name}.${Date.now()}.cpuprofile`,
    );
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

/**
 * The customers one run registers: `warmup` first (a warm-up run, not counted), then `operations`
 * for the maximum rate, then those of the half-rate run.
 */
export function customerIds(operations: number, warmup = 0): string[] {
  const halfCount = Math.max(100, Math.floor(operations / 2));
  return Array.from({ length: warmup + operations + halfCount }, (_, i) => `b${i}`);
}

/** Follows the stream and resolves each operation id's waiter when its notification appears. */
export function followStream(redis: Redis, stream: string) {
  // Per operation id: when this process read its entry, and when Redis added it (wall clock, ms).
  const seen = new Map<string, { readonly at: number; readonly addedMs: number }>();
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
          // The entry's id starts with Redis's clock in ms when it was added: the moment the
          // notification was on the stream, whatever this reader was doing then.
          seen.set(operationId, { at, addedMs: Number(id.slice(0, id.indexOf('-'))) });
          waiters.get(operationId)?.(at);
        }
      }
    }
  })();
  return {
    done: (operationId: string) =>
      new Promise<number>((resolve) => {
        const at = seen.get(operationId)?.at;
        if (at !== undefined) resolve(at);
        else waiters.set(operationId, resolve);
      }),
    /** When the operation's entry was added to the stream (wall clock, ms); after `done`. */
    addedAt: (operationId: string) => seen.get(operationId)?.addedMs ?? Number.NaN,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

export type StreamFollower = ReturnType<typeof followStream>;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** A pipeline under load: how one operation starts, where its outcome appears, what runs it. */
export interface LoadTarget {
  /** Its customers, as `customerIds(plan.operations, plan.warmup)` gives them, set up beforehand. */
  readonly ids: readonly string[];
  /** Starts one operation for customer `id`; resolves with the id its stream entry carries. */
  readonly submit: (id: string) => Promise<string>;
  readonly stream: StreamFollower;
  /** The processes whose CPU time is split out (the load generator, this process, is added). */
  readonly processes: readonly Started[];
  /** PostgreSQL commits of the pipeline's database so far. */
  readonly commits: () => Promise<number>;
  /** The server's checkpoints so far (`checkpointCount`). */
  readonly checkpoints: () => Promise<number>;
}

const CHECKPOINTS_SQL_17 = 'select (num_timed + num_requested)::text as n from pg_stat_checkpointer';
const CHECKPOINTS_SQL_BEFORE_17 =
  'select (checkpoints_timed + checkpoints_req)::text as n from pg_stat_bgwriter';
/** The one of the two that this server answers, once known (every pipeline shares the server). */
let checkpointsSql: string | undefined;

/**
 * The checkpoints PostgreSQL has made so far, timed and requested (their counters moved from
 * `pg_stat_bgwriter` to `pg_stat_checkpointer` in 17). A checkpoint makes the next change of each
 * page write the whole page to the WAL, so one in a run says something of its tail.
 */
export async function checkpointCount(
  query: (text: string) => Promise<readonly { n: string }[]>,
): Promise<number> {
  const count = async (text: string) => Number((await query(text))[0]?.n ?? Number.NaN);
  if (checkpointsSql === undefined) {
    try {
      const n = await count(CHECKPOINTS_SQL_17);
      checkpointsSql = CHECKPOINTS_SQL_17;
      return n;
    } catch {
      checkpointsSql = CHECKPOINTS_SQL_BEFORE_17;
    }
  }
  return count(checkpointsSql);
}

/**
 * How the maximum rate is measured. `warmup` operations first, not counted: the processes have
 * just started, and until V8 has compiled their hot paths an operation costs more (a naive run of
 * 200 operations gave 119/s against 180–238/s at 3,000); the real pipeline's api was warmed by
 * the set-up's record calls and the naive one by nothing, so without it the comparison favoured
 * the real pipeline. 1,000 by default: after 300, each pipeline's first slice was still its
 * slowest in five runs of five (by 20–40 %). Then `operations` in `slices` slices, the pipelines
 * taking turns (A B, B A, A B, …), each 2 s after the last: the machine's speed changes from minute to minute (the simulator's own CPU per
 * operation, the same code in every run, ranged 1.4–2.8 ms in one session), and two pipelines
 * measured a minute apart met different minutes. Slices shorter than `pg`'s 10 s idle timeout
 * (the naive pipeline's; the real one's pool keeps idle connections 10 minutes) keep the idle
 * pipeline's pooled connections (and their prepared statements) alive, as steady load does.
 * `BENCH_WARMUP`, `BENCH_SLICES`.
 */
export interface LoadPlan {
  readonly operations: number;
  readonly warmup: number;
  readonly slices: number;
}

export function loadPlan(operations: number): LoadPlan {
  const warmup = Number(process.env.BENCH_WARMUP ?? 1000);
  const slices = Number(process.env.BENCH_SLICES ?? 3);
  return {
    operations,
    warmup: Number.isInteger(warmup) && warmup >= 0 ? warmup : 1000,
    slices: Number.isInteger(slices) && slices >= 1 ? Math.min(slices, operations) : 3,
  };
}

/** The pause before each slice; shorter than the naive pool's 10 s idle timeout (see `LoadPlan`). */
const SLICE_GAP_MS = 2_000;

/** One target's maximum-rate figures, summed over its slices. */
interface Tally {
  operations: number;
  elapsedMs: number;
  machineBusyMs: number | null;
  cpuMs: Map<string, number> | null;
  services: { postgres: number; redis: number } | null;
  syscalls: Map<string, { reads: number; writes: number }> | null;
  sliceRates: number[];
  /** CPU the other targets' processes spent, idle, during this target's slices. */
  idleOthersCpuMs: number;
}

const newTally = (): Tally => ({
  operations: 0,
  elapsedMs: 0,
  machineBusyMs: 0,
  cpuMs: new Map(),
  services: { postgres: 0, redis: 0 },
  syscalls: new Map(),
  sliceRates: [],
  idleOthersCpuMs: 0,
});

/** At most `limit` of `ids` at once, each started by `submit` and done when its stream entry is read. */
async function closedLoop(target: LoadTarget, ids: readonly string[], limit: number): Promise<number> {
  const started = performance.now();
  const done: Promise<number>[] = [];
  await inParallel(ids, limit, async (id) => {
    done.push(target.stream.done(await target.submit(id)));
  });
  return Math.max(...(await Promise.all(done))) - started;
}

/** The processes whose figures a target reports: its own, and the load generator (this process). */
const namedProcesses = (target: LoadTarget) => [
  ...target.processes.map(({ name, child }) => ({ name, pid: child.pid })),
  { name: 'load generator', pid: process.pid },
];

/** Runs `ids` on `target` at the maximum rate and adds what it took to `tally`. */
async function measureSlice(
  target: LoadTarget,
  ids: readonly string[],
  tally: Tally,
  idle: readonly Started[],
): Promise<void> {
  const named = namedProcesses(target);
  const read = async () => ({
    busy: await machineBusyMs(),
    cpu: await Promise.all(named.map(({ pid }) => processCpuMs(pid))),
    syscalls: await Promise.all(named.map(({ pid }) => processSyscalls(pid))),
    services: await servicesCpuMs(),
    idle: await Promise.all(idle.map(({ child }) => processCpuMs(child.pid))),
  });
  const sum = (values: readonly (number | null)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0);
  const before = await read();
  const startedUs = process.hrtime.bigint() / 1000n;
  const elapsed = await closedLoop(target, ids, 64);
  const endedUs = process.hrtime.bigint() / 1000n;
  const after = await read();
  recordProfileWindow('slice', named, startedUs, endedUs);
  tally.operations += ids.length;
  tally.elapsedMs += elapsed;
  tally.idleOthersCpuMs += sum(after.idle) - sum(before.idle);
  tally.sliceRates.push(ids.length / (elapsed / 1000));
  tally.machineBusyMs =
    tally.machineBusyMs === null || before.busy === null || after.busy === null
      ? null
      : tally.machineBusyMs + (after.busy - before.busy);
  for (const [i, { name }] of named.entries()) {
    const [cpu0, cpu1, io0, io1] = [before.cpu[i], after.cpu[i], before.syscalls[i], after.syscalls[i]];
    if (tally.cpuMs !== null) {
      if (cpu0 == null || cpu1 == null) tally.cpuMs = null;
      else tally.cpuMs.set(name, (tally.cpuMs.get(name) ?? 0) + (cpu1 - cpu0));
    }
    if (tally.syscalls !== null) {
      if (io0 == null || io1 == null) tally.syscalls = null;
      else {
        const sum = tally.syscalls.get(name) ?? { reads: 0, writes: 0 };
        tally.syscalls.set(name, {
          reads: sum.reads + (io1.reads - io0.reads),
          writes: sum.writes + (io1.writes - io0.writes),
        });
      }
    }
  }
  tally.services =
    tally.services === null || before.services === null || after.services === null
      ? null
      : {
          postgres: tally.services.postgres + (after.services.postgres - before.services.postgres),
          redis: tally.services.redis + (after.services.redis - before.services.redis),
        };
}

/** The per-operation figures of a tally (CPU split by process, system calls). */
function perOperation(tally: Tally) {
  const n = tally.operations;
  const machineCpuMsPerOperation = tally.machineBusyMs === null ? null : tally.machineBusyMs / n;
  let cpuMsPerOperationByProcess: Record<string, number> | null = null;
  if (machineCpuMsPerOperation !== null && tally.cpuMs !== null) {
    cpuMsPerOperationByProcess = {};
    for (const [name, ms] of tally.cpuMs) cpuMsPerOperationByProcess[name] = ms / n;
    if (tally.services !== null) {
      cpuMsPerOperationByProcess.PostgreSQL = tally.services.postgres / n;
      cpuMsPerOperationByProcess.Redis = tally.services.redis / n;
    }
    const counted = Object.values(cpuMsPerOperationByProcess).reduce((a, b) => a + b, 0);
    cpuMsPerOperationByProcess[
      tally.services === null ? 'rest (PostgreSQL, Redis, kernel)' : 'rest (kernel, other processes)'
    ] = machineCpuMsPerOperation - counted;
  }
  const syscallsPerOperationByProcess =
    tally.syscalls === null
      ? null
      : Object.fromEntries(
          [...tally.syscalls].map(([name, { reads, writes }]) => [
            name,
            { reads: reads / n, writes: writes / n },
          ]),
        );
  return { machineCpuMsPerOperation, cpuMsPerOperationByProcess, syscallsPerOperationByProcess };
}

/**
 * With BENCH_CPU_PROFILE_DIR, a measured window of `processes` (from `process.hrtime`, the
 * monotonic clock V8's profiles are stamped with, in microseconds) for `bench/profile-slices.ts`.
 */
export function recordProfileWindow(
  phase: 'slice' | 'batch',
  processes: readonly { readonly name: string }[],
  startUs: bigint,
  endUs: bigint,
): void {
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  if (!profileDir) return;
  const window = { phase, processes: processes.map((p) => p.name), startUs: `${startUs}`, endUs: `${endUs}` };
  mkdirSync(profileDir, { recursive: true });
  appendFileSync(`${profileDir}/slices.jsonl`, `${JSON.stringify(window)}\n`);
}

interface OpenLoopLatencies {
  /** From the call to the notification read by this process: the figure the targets use. */
  readonly read: number[];
  /** From the call to its `202`. */
  readonly accepted: number[];
  /** From the call to the entry's own time on the stream (its id), this reader's lag left out. */
  readonly added: number[];
}

/**
 * Latency from the call to the notification in an open loop at `rate` operations per second,
 * with two parts of it: the `202`, and the entry's time on the stream (Redis's clock in its id,
 * against this process's wall clock, both the machine's), which tells a tail made by the
 * pipeline from one made by this process reading late.
 */
async function openLoop(
  target: LoadTarget,
  ids: readonly string[],
  rate: number,
): Promise<OpenLoopLatencies> {
  const runs: Promise<[read: number, accepted: number, added: number]>[] = [];
  const wallOf = (monotonic: number) => performance.timeOrigin + monotonic;
  const t0 = performance.now();
  for (const [i, id] of ids.entries()) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    runs.push(
      target.submit(id).then(async (operationId) => {
        const accepted = performance.now() - sent;
        const read = (await target.stream.done(operationId)) - sent;
        return [read, accepted, target.stream.addedAt(operationId) - wallOf(sent)];
      }),
    );
  }
  const all = await Promise.all(runs);
  const sorted = (k: 0 | 1 | 2) => all.map((r) => r[k]).sort((a, b) => a - b);
  return { read: sorted(0), accepted: sorted(1), added: sorted(2) };
}

/**
 * The maximum rate of each target (closed loops of 64 clients, each waiting for the 202 only, a
 * slice ending when its last notification is read), the commits and CPU it cost, then each
 * target's latency from the call to the notification in an open loop at half its rate. See
 * `LoadPlan` for the warm-up and the slices.
 *
 * The targets idle between their slices as they would in production, their timers running; what
 * the others' processes spend during a target's slices is reported with it (the real pipeline's
 * charge the naive slices about 0.3 ms per operation, the naive one's the real slices about 0.1).
 * Stopping them (SIGSTOP) was tried and not kept: a stopped process's pool finds its connections
 * past `pg`'s 10 s idle timeout when it goes on, so each of its slices started on new
 * connections that prepared every statement again, which no process under steady load does (one
 * run gave a ratio of 0.684 with it against 0.893 without, minutes apart).
 */
export async function measureLoads(targets: readonly LoadTarget[], plan: LoadPlan): Promise<LoadResult[]> {
  const { operations, warmup, slices } = plan;
  // An idle backend reports its commits to the statistics up to 10 s late (PostgreSQL 15+).
  const settleStatistics = () => new Promise((resolve) => setTimeout(resolve, 11_000));

  // Commits are counted from before the warm-ups (the set-up's settled first), over warm-ups and
  // slices alike: a wait for the statistics between them would leave each pool idle past its
  // 10 s timeout, and every first slice would start on new connections.
  await settleStatistics();
  const commitsBefore = await Promise.all(targets.map((t) => t.commits()));
  for (const target of targets) {
    await closedLoop(target, target.ids.slice(0, warmup), 64);
  }
  const tallies: Tally[] = targets.map(newTally);
  const checkpointsBefore = await Promise.all(targets.map((t) => t.checkpoints()));
  const sliceSize = Math.ceil(operations / slices);
  for (let slice = 0; slice < slices; slice++) {
    const from = warmup + slice * sliceSize;
    const to = warmup + Math.min(operations, (slice + 1) * sliceSize);
    const order = slice % 2 === 0 ? [...targets.keys()] : [...targets.keys()].reverse();
    for (const i of order) {
      const target = targets[i] as LoadTarget;
      const idle = targets.filter((t) => t !== target).flatMap((t) => t.processes);
      // The previous slice's pipeline finishes what follows its last notification (the outbox
      // marks, the jobs' completions) before this slice starts, not during it: 0.4–0.6 ms per
      // operation was charged to the next slice without this gap.
      await new Promise((resolve) => setTimeout(resolve, SLICE_GAP_MS));
      await measureSlice(target, target.ids.slice(from, to), tallies[i] as Tally, idle);
    }
  }
  const checkpointsAfter = await Promise.all(targets.map((t) => t.checkpoints()));
  await settleStatistics();
  const commitsAfter = await Promise.all(targets.map((t) => t.commits()));

  const results: LoadResult[] = [];
  for (const [i, target] of targets.entries()) {
    const tally = tallies[i] as Tally;
    const opsPerSecond = tally.operations / (tally.elapsedMs / 1000);
    const rate = opsPerSecond / 2;
    const halfBefore = await target.checkpoints();
    const latencies = await openLoop(target, target.ids.slice(warmup + operations), rate);
    const halfCheckpoints = (await target.checkpoints()) - halfBefore;
    results.push({
      operations: tally.operations,
      opsPerSecond,
      sliceRates: tally.sliceRates,
      idleOthersCpuMsPerOperation: targets.length > 1 ? tally.idleOthersCpuMs / tally.operations : null,
      commitsPerOperation: ((commitsAfter[i] ?? 0) - (commitsBefore[i] ?? 0)) / (warmup + tally.operations),
      ...perOperation(tally),
      peakRssMbByProcess: await peakRssByProcess(namedProcesses(target)),
      checkpoints: (checkpointsAfter[i] ?? 0) - (checkpointsBefore[i] ?? 0),
      halfRate: {
        rate,
        checkpoints: halfCheckpoints,
        operations: latencies.read.length,
        p50: percentile(latencies.read, 50),
        p95: percentile(latencies.read, 95),
        p99: percentile(latencies.read, 99),
        acceptedP50: percentile(latencies.accepted, 50),
        acceptedP99: percentile(latencies.accepted, 99),
        addedP50: percentile(latencies.added, 50),
        addedP99: percentile(latencies.added, 99),
      },
    });
  }
  for (const target of targets) await writeHeapSnapshots(target.processes);
  return results;
}

/** A maximum-rate slice of one target measured on its own (`measureBracketed`). */
export interface SliceRate {
  readonly operations: number;
  readonly seconds: number;
}

/**
 * The maximum rate of `target` over `ids` (64 clients, as in `measureLoads`' slices), after a
 * warm-up of `warmupIds` not counted: a pipeline that idled a while finds its pool's connections
 * closed (`pg`'s 10 s idle timeout) and prepares its statements again, as it did at the start.
 */
export async function measureSliceRate(
  target: LoadTarget,
  warmupIds: readonly string[],
  ids: readonly string[],
): Promise<SliceRate> {
  if (warmupIds.length > 0) await closedLoop(target, warmupIds, 64);
  await new Promise((resolve) => setTimeout(resolve, SLICE_GAP_MS));
  const tally = newTally();
  await measureSlice(target, ids, tally, []);
  return { operations: tally.operations, seconds: tally.elapsedMs / 1000 };
}

/** A load target and what ends it (stops its processes, drops its database). */
export interface PreparedTarget {
  readonly target: LoadTarget;
  readonly close: () => Promise<void>;
}

/**
 * Prepares each target in turn (their processes then run side by side), measures them with
 * `measureLoads`, and closes every one prepared, whatever fails.
 */
export async function measureSideBySide(
  prepare: readonly (() => Promise<PreparedTarget>)[],
  plan: LoadPlan,
): Promise<LoadResult[]> {
  const prepared: PreparedTarget[] = [];
  try {
    for (const next of prepare) prepared.push(await next());
    return await measureLoads(
      prepared.map((p) => p.target),
      plan,
    );
  } finally {
    for (const p of prepared.reverse()) await p.close();
  }
}

/** `name 1.2, name 3.4`: a figure per process, as the bench prints them. */
export function perProcess(byProcess: Record<string, number>, digits: number): string {
  return Object.entries(byProcess)
    .map(([name, value]) => `${name} ${value.toFixed(digits)}`)
    .join(', ');
}

/** `name reads / writes, …`: the system calls per process. */
export function syscallsPerProcess(byProcess: Record<string, { reads: number; writes: number }>): string {
  return Object.entries(byProcess)
    .map(([name, { reads, writes }]) => `${name} ${reads.toFixed(1)} / ${writes.toFixed(1)}`)
    .join(', ');
}

/** The figures of one run, each line starting with `label` (empty for the real pipeline). */
export function printLoad(label: string, title: string, result: LoadResult): void {
  const lead = label === '' ? '' : `${label} `;
  console.log(
    `${lead}registrations/s (${title}, ${result.operations} operations): ${result.opsPerSecond.toFixed(0)}`,
  );
  console.log(
    `${lead}PostgreSQL commits per operation: ${result.commitsPerOperation.toFixed(1)}; checkpoints during the maximum-rate run: ${result.checkpoints}`,
  );
  if (result.machineCpuMsPerOperation !== null) {
    console.log(
      `${lead}machine CPU per operation (every process, maximum-rate run): ${result.machineCpuMsPerOperation.toFixed(1)} ms`,
    );
  }
  if (result.cpuMsPerOperationByProcess !== null) {
    console.log(`  of which, ms per operation: ${perProcess(result.cpuMsPerOperationByProcess, 1)}`);
  }
  if (result.syscallsPerOperationByProcess !== null) {
    console.log(
      `  system calls per operation (reads / writes): ${syscallsPerProcess(result.syscallsPerOperationByProcess)}`,
    );
  }
  if (result.peakRssMbByProcess !== null) {
    console.log(`${lead}peak RSS, MB: ${perProcess(result.peakRssMbByProcess, 0)}`);
  }
  if (result.sliceRates.length > 1) {
    console.log(
      `${lead}maximum rate by slice, operations/s: ${result.sliceRates.map((r) => r.toFixed(0)).join(', ')}`,
    );
  }
  if (result.idleOthersCpuMsPerOperation !== null) {
    console.log(
      `${lead}CPU of the other pipeline's idle processes during these slices: ${result.idleOthersCpuMsPerOperation.toFixed(2)} ms per operation (in the machine's figure)`,
    );
  }
  const half = result.halfRate;
  console.log(
    `${lead}latency at half the maximum rate (${half.rate.toFixed(0)}/s, ${half.operations} operations): p50 ${half.p50.toFixed(0)} ms, p95 ${half.p95.toFixed(0)} ms, p99 ${half.p99.toFixed(0)} ms; PostgreSQL checkpoints during it: ${half.checkpoints}`,
  );
  console.log(
    `${lead}  the same operations: call to 202 p50 ${half.acceptedP50.toFixed(0)} ms, p99 ${half.acceptedP99.toFixed(0)} ms; call to the entry's time on the stream (the reader's lag left out) p50 ${half.addedP50.toFixed(0)} ms, p99 ${half.addedP99.toFixed(0)} ms`,
  );
}

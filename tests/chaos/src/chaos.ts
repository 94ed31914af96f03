import { say, sleep } from './clock.ts';
import { type FaultSet, setFaults } from './faults.ts';
import { terminateConnections } from './postgres.ts';
import type { SupervisedProcess } from './supervised-process.ts';
import type { System } from './system.ts';

export interface ChaosCounts {
  workerKills: number;
  apiKills: number;
  redisRestarts: number;
  postgresCuts: number;
  connectionsCut: number;
  faultSwitches: number;
}

/** SIGKILL, a moment dead, start again (and wait until it serves). */
async function killAndRestart(process: SupervisedProcess, deadMs = 1_000): Promise<void> {
  await process.kill();
  await sleep(deadMs);
  await process.start();
}

type Step = (system: System, counts: ChaosCounts) => Promise<void>;

const faults =
  (...sets: FaultSet[]): Step =>
  async (system, counts) => {
    for (const set of sets) {
      await setFaults(system.simUrl, set);
      counts.faultSwitches += 1;
    }
  };

const killWorkers =
  (...indexes: number[]): Step =>
  async (system, counts) => {
    const targets = indexes.map((i) => system.workers[i]).filter((w) => w !== undefined);
    counts.workerKills += targets.length;
    await Promise.all(targets.map((worker) => killAndRestart(worker)));
  };

const killApi: Step = async (system, counts) => {
  counts.apiKills += 1;
  await killAndRestart(system.api);
};

const restartRedis: Step = async (system, counts) => {
  counts.redisRestarts += 1;
  await system.redis.restart(2_000);
};

const cutPostgres: Step = async (system, counts) => {
  counts.postgresCuts += 1;
  const cut = await terminateConnections(system.databaseUrl);
  counts.connectionsCut += cut;
  say(`postgresql: pg_terminate_backend cut ${cut} connections`);
};

const both =
  (...steps: Step[]): Step =>
  async (system, counts) => {
    await Promise.all(steps.map((step) => step(system, counts)));
  };

/**
 * The timeline, as fractions of the load's duration: every kind of failure, alone first and then
 * overlapping, with the simulator's faults switched on and off in between. Fixed rather than
 * drawn, so a run that breaks an invariant can be told apart by what happened when.
 */
const TIMELINE: readonly [at: number, step: Step][] = [
  [0.05, faults('transport')],
  [0.1, killWorkers(0)],
  [0.17, faults('off', 'slow')],
  [0.22, restartRedis],
  [0.28, faults('off', 'webhooks')],
  [0.33, killWorkers(1)],
  [0.4, cutPostgres],
  [0.45, killApi],
  [0.5, faults('off', 'everything')],
  [0.55, killWorkers(0, 1)],
  [0.62, restartRedis],
  [0.68, cutPostgres],
  [0.72, killApi],
  [0.78, both(killWorkers(1), cutPostgres)],
  [0.85, faults('off', 'transport', 'slow', 'rejections')],
  [0.9, both(restartRedis, killWorkers(0))],
  [0.97, faults('off')],
];

/** Runs the timeline over `durationMs`; a step that overruns delays the next one, never skips it. */
export async function runChaos(system: System, durationMs: number): Promise<ChaosCounts> {
  const counts: ChaosCounts = {
    workerKills: 0,
    apiKills: 0,
    redisRestarts: 0,
    postgresCuts: 0,
    connectionsCut: 0,
    faultSwitches: 0,
  };
  const start = Date.now();
  for (const [at, step] of TIMELINE) {
    const wait = start + at * durationMs - Date.now();
    if (wait > 0) await sleep(wait);
    await step(system, counts);
  }
  const rest = start + durationMs - Date.now();
  if (rest > 0) await sleep(rest);
  return counts;
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@ctp/core/config';
import { readDatabaseUrl } from '@ctp/db';
import { ACTIONS } from './actions.ts';
import { ApiClient } from './api-client.ts';
import { submitBatches } from './batches.ts';
import { breachStory } from './breach-story.ts';
import { runChaos } from './chaos.ts';
import { elapsed, say } from './clock.ts';
import { setFaults } from './faults.ts';
import { customers } from './fixtures.ts';
import { gatherState, readLogs } from './gather.ts';
import { checkInvariants, InvariantBreach } from './invariants.ts';
import { createRecords, driveLoad } from './load.ts';
import { readOptions } from './options.ts';
import { seededRandom } from './random.ts';
import { scanForPans } from './scan.ts';
import { settle } from './settle.ts';
import { printChaos, printFindings, printLoad, reportServerErrors } from './summary.ts';
import { killAllNow } from './supervised-process.ts';
import { startSystem } from './system.ts';

/**
 * The chaos suite (`pnpm test:chaos`): the real processes under a mixed load of both tenants
 * while workers, the api, Redis and PostgreSQL connections are killed and every simulator fault
 * is switched on and off; then, once everything has settled, the invariant checker. Exit 0 only
 * if every invariant holds.
 */

// The suite must end within CI's 10 minutes whatever happens; past this it stops and fails.
const HARD_LIMIT_MS = 9 * 60_000 + 30_000;

const options = readOptions();
const random = seededRandom(options.seed);
const workDir = await mkdtemp(join(tmpdir(), 'ctp-chaos-'));
say(
  `seed ${options.seed} (rerun with --seed ${options.seed}), load ${options.loadSeconds} s, ` +
    `${options.entities} entities per tenant, ${options.concurrency} clients` +
    `${options.actions.size < ACTIONS.length ? `, actions ${[...options.actions].join(',')}` : ''}; logs in ${workDir}/logs`,
);

const hardLimit = setTimeout(() => {
  say(`FAILED: the suite ran past ${HARD_LIMIT_MS / 1000} s; stopping. Logs: ${workDir}/logs`);
  killAllNow();
  process.exit(3);
}, HARD_LIMIT_MS);
hardLimit.unref();
process.once('SIGINT', () => {
  killAllNow();
  process.exit(130);
});

async function main(): Promise<number> {
  const system = await startSystem({ workDir, serverUrl: readDatabaseUrl() });
  const clients = loadConfig({}).API_KEYS.map(({ tenant, key }) => new ApiClient(system.apiUrl, tenant, key));
  const fleet = customers(options.entities, random);
  await createRecords(clients, fleet, random);

  const loadStart = Date.now();
  const chaos = runChaos(system, options.loadSeconds * 1_000);
  let loadOver = false;
  void chaos.then(() => {
    loadOver = true;
  });
  // Batches of new customers through most of the load: four rounds a fifth of it apart.
  const batches = submitBatches({
    clients,
    rounds: 4,
    items: 120,
    everyMs: (options.loadSeconds * 1_000) / 5,
    random: random.fork(10_000),
    runId: `chaos-${options.seed}`,
    stopped: () => loadOver,
  });
  const load = await driveLoad({
    clients,
    customers: fleet,
    random,
    concurrency: options.concurrency,
    runId: `chaos-${options.seed}`,
    allowed: options.actions,
    until: chaos.then(() => undefined),
  });
  const chaosCounts = await chaos;
  const submittedBatches = await batches;
  reportServerErrors(load);
  say(
    `load over after ${((Date.now() - loadStart) / 1000).toFixed(0)} s: ${load.accepted.size} operations accepted`,
  );

  // The end state: no faults, every process up, then nothing left to do.
  await setFaults(system.simUrl, 'off');
  for (const p of system.processes) {
    if (!p.running) await p.start();
    else await p.waitReady();
  }
  const settled = await settle(system.databaseUrl, options.settleSeconds * 1_000);
  say(
    settled.ok
      ? `settled in ${(settled.ms / 1000).toFixed(1)} s`
      : `NOT settled after ${settled.ms / 1000} s`,
  );

  // Nothing moves while the facts are read: the api and workers stop (gracefully) first.
  await Promise.all([system.api, ...system.workers].map((p) => p.stop()));
  const state = await gatherState(system, [...load.accepted.keys()], submittedBatches);
  const scan = await scanForPans({
    databaseUrl: system.databaseUrl,
    redisUrl: system.redis.url,
    logDir: join(workDir, 'logs'),
  });
  await system.stop();
  const facts = { ...state, logs: await readLogs(system) };

  process.stdout.write('\n');
  printLoad(load);
  printChaos(chaosCounts, system);
  printFindings();
  process.stdout.write('\ninvariants:\n');
  try {
    checkInvariants(facts, (line) => process.stdout.write(`${line}\n`));
  } catch (error) {
    if (!(error instanceof InvariantBreach)) throw error;
    for (const line of breachStory(error, facts)) process.stdout.write(`    ${line}\n`);
    say(`FAILED after ${elapsed()}: ${error.message}`);
    say(`kept for investigation: logs in ${workDir}/logs, database ${system.databaseUrl}`);
    return 1;
  }
  process.stdout.write(`\ncard-number scan (logs, Redis, database but kit.pan_ciphertext):\n${scan.output}`);
  if (!scan.ok) {
    say(`FAILED after ${elapsed()}: the card-number scan found card data (or could not run)`);
    say(`kept for investigation: logs in ${workDir}/logs, database ${system.databaseUrl}`);
    return 1;
  }
  say(
    `PASSED: every invariant holds and no card number was found (${elapsed()} in all, seed ${options.seed})`,
  );
  if (!options.keep) {
    await system.dropDatabase();
    await rm(workDir, { recursive: true, force: true });
  } else {
    say(`kept: logs in ${workDir}/logs, database ${system.databaseUrl}`);
  }
  return 0;
}

let code: number;
try {
  code = await main();
} catch (error) {
  say(
    `FAILED: the suite itself broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  say(`logs in ${workDir}/logs`);
  killAllNow();
  code = 2;
}
clearTimeout(hardLimit);
process.exit(code);

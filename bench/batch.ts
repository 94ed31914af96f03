import { loadConfig } from '@ctp/core/config';
import { Agent, fetch } from 'undici';
import {
  call,
  machineBusyMs,
  peakRssByProcess,
  perProcess,
  processCpuMs,
  processSyscalls,
  recordProfileWindow,
  servicesCpuMs,
  syscallsPerProcess,
} from './harness.ts';
import { BENCH_CARD, benchCustomer, commitsOf, startBenchPipeline } from './pipeline.ts';

/**
 * The batch phase (issue 14): `items` customers with their cards in one NDJSON batch (the
 * records carried in the items), through the real processes and the simulator of the end-to-end
 * phase, the tenant's SaaS rate at its maximum so that it is not the limit. Timed from the first
 * byte of the upload to the batch's completion; the processes are started for this phase alone,
 * so their peak RSS (`VmHWM`) is the phase's.
 */

export interface BatchResult {
  readonly items: number;
  readonly succeeded: number;
  /** Seconds from the first byte of the upload to its 202 (records written, items judged). */
  readonly intakeSeconds: number;
  readonly seconds: number;
  readonly enrolmentsPerSecond: number;
  readonly commitsPerItem: number;
  readonly machineCpuMsPerItem: number | null;
  /** Our processes', then PostgreSQL's and Redis's (every process of the machine of that name). */
  readonly cpuMsPerItemByProcess: Readonly<Record<string, number>> | null;
  /** Reading and writing system calls per item of each process we start (`/proc/<pid>/io`). */
  readonly syscallsPerItemByProcess: Readonly<Record<string, { reads: number; writes: number }>> | null;
  readonly peakRssMbByProcess: Readonly<Record<string, number>> | null;
}

const KEY = loadConfig({}).API_KEYS[0]?.key;

/** The NDJSON body, produced as it is sent: the bench holds one chunk of lines at a time. */
function ndjsonBody(items: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next >= items) {
        controller.close();
        return;
      }
      const lines: string[] = [];
      for (const end = Math.min(items, next + 500); next < end; next += 1) {
        const id = `b${next}`;
        lines.push(
          JSON.stringify({ entityId: id, kitNo: `${id}k`, customer: benchCustomer(id), card: BENCH_CARD }),
        );
      }
      controller.enqueue(encoder.encode(`${lines.join('\n')}\n`));
    },
  });
}

/**
 * `around`, when given, is run twice with the batch's processes started and idle: just before the
 * upload and just after the batch's figures are taken (the naive slices of `run.ts`), so that
 * each side of the comparison runs with the other side's processes alive and idle.
 */
export async function measureBatch<T = never>(
  serverUrl: string,
  redisUrl: string,
  items: number,
  around?: () => Promise<T>,
): Promise<BatchResult & { readonly around: readonly [before: T, after: T] | null }> {
  const pipeline = await startBenchPipeline(serverUrl, redisUrl);
  const { api } = pipeline;
  try {
    await call(api, 'PUT', '/v1/ctp/settings', { mode: 'ALL', saasRatePerSecond: 10_000 });
    const before = around === undefined ? null : await around();
    const named = [
      ...pipeline.processes.map(({ name, child }) => ({ name, pid: child.pid })),
      { name: 'load generator', pid: process.pid },
    ];
    const commitsBefore = await commitsOf(pipeline.db);
    const busyBefore = await machineBusyMs();
    const cpuBefore = await Promise.all(named.map(({ pid }) => processCpuMs(pid)));
    const servicesBefore = await servicesCpuMs();
    const syscallsBefore = await Promise.all(named.map(({ pid }) => processSyscalls(pid)));
    // The upload's answer comes once every item is judged and its records written: minutes for a
    // large batch, past the client's default 300 s wait for the answer's headers.
    const patient = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
    const started = performance.now();
    const startedUs = process.hrtime.bigint() / 1000n;
    const response = await fetch(`${api}/v1/ctp/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
      body: ndjsonBody(items),
      duplex: 'half',
      dispatcher: patient,
    });
    const accepted = (await response.json()) as { batchId?: string };
    await patient.close();
    if (response.status !== 202 || accepted.batchId === undefined)
      throw new Error(`batch refused: ${response.status} ${JSON.stringify(accepted)}`);
    const intakeSeconds = (performance.now() - started) / 1000;
    let batch: { completedAt?: string; counts: { succeeded: number } };
    for (;;) {
      batch = (await call(api, 'GET', `/v1/ctp/batches/${accepted.batchId}`)) as typeof batch;
      if (batch.completedAt !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const seconds = (performance.now() - started) / 1000;
    recordProfileWindow('batch', named, startedUs, process.hrtime.bigint() / 1000n);
    const busyAfter = await machineBusyMs();
    const cpuAfter = await Promise.all(named.map(({ pid }) => processCpuMs(pid)));
    const servicesAfter = await servicesCpuMs();
    const syscallsAfter = await Promise.all(named.map(({ pid }) => processSyscalls(pid)));
    const peakRssMbByProcess = await peakRssByProcess(named);
    const after = around === undefined ? null : await around();
    let cpuMsPerItemByProcess: Record<string, number> | null = null;
    if (cpuAfter.every((v) => v !== null) && cpuBefore.every((v) => v !== null)) {
      cpuMsPerItemByProcess = {};
      for (const [i, { name }] of named.entries()) {
        const spent = ((cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0)) / items;
        cpuMsPerItemByProcess[name] = (cpuMsPerItemByProcess[name] ?? 0) + spent;
      }
      if (servicesBefore !== null && servicesAfter !== null) {
        cpuMsPerItemByProcess.PostgreSQL = (servicesAfter.postgres - servicesBefore.postgres) / items;
        cpuMsPerItemByProcess.Redis = (servicesAfter.redis - servicesBefore.redis) / items;
      }
    }
    let syscallsPerItemByProcess: Record<string, { reads: number; writes: number }> | null = {};
    for (const [i, { name }] of named.entries()) {
      const before = syscallsBefore[i];
      const after = syscallsAfter[i];
      if (name === 'load generator') continue;
      if (before == null || after == null) {
        syscallsPerItemByProcess = null;
        break;
      }
      syscallsPerItemByProcess[name] = {
        reads: (after.reads - before.reads) / items,
        writes: (after.writes - before.writes) / items,
      };
    }
    // An idle backend reports its commits to the statistics up to 10 s late (PostgreSQL 15+); the
    // slice after the batch, when there is one, is that long or longer and commits elsewhere.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const commitsPerItem = ((await commitsOf(pipeline.db)) - commitsBefore) / items;
    return {
      items,
      succeeded: batch.counts.succeeded,
      intakeSeconds,
      seconds,
      enrolmentsPerSecond: batch.counts.succeeded / seconds,
      commitsPerItem,
      machineCpuMsPerItem:
        busyBefore === null || busyAfter === null ? null : (busyAfter - busyBefore) / items,
      cpuMsPerItemByProcess,
      syscallsPerItemByProcess,
      peakRssMbByProcess,
      around: before === null || after === null ? null : [before, after],
    };
  } finally {
    await pipeline.close();
  }
}

export function printBatch(result: BatchResult): void {
  console.log(
    `batch of ${result.items} NDJSON items with their records: ${result.succeeded} enrolled in ${result.seconds.toFixed(1)} s (upload and intake ${result.intakeSeconds.toFixed(1)} s)`,
  );
  console.log(`batch enrolments/s: ${result.enrolmentsPerSecond.toFixed(0)}`);
  console.log(`batch PostgreSQL commits per item: ${result.commitsPerItem.toFixed(1)}`);
  if (result.machineCpuMsPerItem !== null)
    console.log(`batch machine CPU per item (every process): ${result.machineCpuMsPerItem.toFixed(1)} ms`);
  if (result.cpuMsPerItemByProcess !== null) {
    console.log(`  of which, ms per item: ${perProcess(result.cpuMsPerItemByProcess, 1)}`);
  }
  if (result.syscallsPerItemByProcess !== null) {
    console.log(
      `  system calls per item (reads / writes): ${syscallsPerProcess(result.syscallsPerItemByProcess)}`,
    );
  }
  if (result.peakRssMbByProcess !== null) {
    console.log(`batch peak RSS, MB: ${perProcess(result.peakRssMbByProcess, 0)}`);
  }
}

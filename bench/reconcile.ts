import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@ctp/core/config';
import { defineStatement, SqlSession } from '@ctp/core/operations';
import { reconcileTick, startReconciliation } from '@ctp/core/reconciliation';
import { SaasClient } from '@ctp/core/saas';
import { createMigratedDatabase, createOrm } from '@ctp/db';
import pg from 'pg';
import { freePort, inParallel, startSimulator, stopProcesses, waitReady } from './harness.ts';

/**
 * The reconciliation rate: entities checked per second against the simulator (its 20 ms answer
 * latency, as every bench), and the CPU and memory spent on it, as a worker would spend them:
 * `reconcileTick` with the worker's concurrency of 8 and no rate share in the way, in a process
 * of its own that does nothing else (so its RSS is a worker's, not the seeding's). The entities
 * are enrolled at the simulator through the SaaS API, and our records written to agree with what
 * it holds (ids included), so each check is the common case: read, compare, agree.
 * `BENCH_RECONCILE_ENTITIES` (default 2000) sets how many; issue 15's cost target is a run over
 * 10,000 under 300 MB of worker RSS.
 */

export interface ReconcileResult {
  readonly entities: number;
  readonly entitiesPerSecond: number;
  readonly cpuMsPerEntity: number;
  readonly agreed: number;
  /** The reconciling worker's highest resident set size while it reconciled (sampled every 50 ms). */
  readonly peakRssMb: number;
  /** The same process's lifetime peak, from the OS (start-up included). */
  readonly maxRssMb: number;
}

/** Issue 15's cost target: a run over 10,000 entities keeps the worker under this. */
const RSS_TARGET_MB = 300;
const MB = 1024 * 1024;

/** The peak resident set size while `work` runs, sampled (the OS keeps only the lifetime peak). */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  try {
    const value = await work();
    return { value, peakRss: Math.max(peakRss, process.memoryUsage.rss()) };
  } finally {
    clearInterval(sampler);
  }
}

const CONCURRENCY = 8;

const countAgreed = defineStatement<{ id: string }, { agreed: string }>(
  'bench_reconcile_agreed',
  `select count(*) filter (where outcome = 'AGREED')::text as agreed from ctp_reconciliation_item where reconciliation_id = $id::uuid`,
);

export async function measureReconciliation(serverUrl: string, entities: number): Promise<ReconcileResult> {
  const config = loadConfig({});
  const tenant = config.SAAS_SIM_TENANTS[0] ?? 'ENBDTABBY';
  const db = await createMigratedDatabase(serverUrl, 'ctp_bench_reconcile');
  const hooks = createServer((_request, response) => {
    response.statusCode = 204;
    response.end();
  });
  const hookPort = await freePort();
  await new Promise<void>((resolve) => hooks.listen(hookPort, '127.0.0.1', resolve));
  const simPort = await freePort();
  const sim = startSimulator(
    simPort,
    `http://127.0.0.1:${hookPort}/`,
    { LOG_LEVEL: 'warn' },
    'saas-sim-reconcile',
  );
  const saas = new SaasClient({ baseUrl: `http://127.0.0.1:${simPort}`, apiKey: config.CTP_SAAS_API_KEY });
  try {
    await waitReady(`http://127.0.0.1:${simPort}`);
    const ids = Array.from({ length: entities }, (_, i) => `rec-${String(i).padStart(6, '0')}`);
    await inParallel(ids, 32, async (id) => {
      await saas.addCustomerAndPaymentInstrument(
        tenant,
        {
          consumer: {
            externalConsumerId: id,
            firstName: 'Aisha',
            lastName: 'Khan',
            emails: [`${id}@example.com`],
            phones: [{ countryCode: '971', number: '501234567' }],
            locale: 'en_AE',
            countryCode: 'AE',
            consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' },
          },
          paymentInstrument: {
            externalInstrumentId: `k-${id}`,
            accountNumber: '4111111111111111',
            expirationDate: { month: '12', year: '2030' },
            nameOnCard: 'AISHA KHAN',
            billingAddress: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
          },
        },
        { idempotencyKey: randomUUID() },
      );
    });
    const network = await waitForNetwork(`http://127.0.0.1:${simPort}`, tenant, entities);
    await writeAgreeingRecords(db.databaseUrl, tenant, network);

    const { reconciliationId } = await startReconciliation(db.orm.em.fork(), { tenant });
    const worker = await runReconcilingWorker({
      databaseUrl: db.databaseUrl,
      simUrl: `http://127.0.0.1:${simPort}`,
      apiKey: config.CTP_SAAS_API_KEY,
      reconciliationId,
    });
    const [row] = await SqlSession.runAlone(db.orm.em, countAgreed({ id: reconciliationId }));
    return {
      entities,
      entitiesPerSecond: entities / worker.seconds,
      cpuMsPerEntity: worker.cpuMs / entities,
      agreed: Number(row?.agreed ?? 0),
      peakRssMb: worker.peakRss / MB,
      maxRssMb: worker.maxRss / MB,
    };
  } finally {
    await saas.close();
    await stopProcesses([sim]);
    hooks.close();
    await db.drop();
  }
}

interface WorkerTask {
  readonly databaseUrl: string;
  readonly simUrl: string;
  readonly apiKey: string;
  readonly reconciliationId: string;
}

interface WorkerFigures {
  readonly seconds: number;
  readonly cpuMs: number;
  /** Bytes: sampled while reconciling, and the OS's lifetime peak of the process. */
  readonly peakRss: number;
  readonly maxRss: number;
}

/**
 * The heap flags of `pnpm start:worker` (the `--max-*` options of its start script): a worker's
 * RSS depends on them as much as on what it holds, since V8 grows an unbounded heap before it
 * collects.
 */
async function workerHeapFlags(): Promise<string[]> {
  const manifest = JSON.parse(
    await readFile(new URL('../apps/worker/package.json', import.meta.url), 'utf8'),
  ) as { scripts: { start: string } };
  return manifest.scripts.start.split(/\s+/).filter((option) => option.startsWith('--max-'));
}

/** Runs `reconcileUntilDone` in a child process (this file, `BENCH_RECONCILE_TASK` set). */
async function runReconcilingWorker(task: WorkerTask): Promise<WorkerFigures> {
  const child = spawn(process.execPath, [...(await workerHeapFlags()), fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_RECONCILE_TASK: JSON.stringify(task), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const last = output.trim().split('\n').at(-1);
  if (code !== 0 || last === undefined) throw new Error(`the reconciling worker exited ${code}: ${output}`);
  return JSON.parse(last) as WorkerFigures;
}

/** The worker's side: ticks until the reconciliation completes, measuring only that. */
async function reconcileUntilDone(task: WorkerTask): Promise<WorkerFigures> {
  const orm = await createOrm({ databaseUrl: task.databaseUrl });
  const saas = new SaasClient({ baseUrl: task.simUrl, apiKey: task.apiKey });
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const { peakRss } = await withPeakRss(async () => {
      for (;;) {
        const tick = await reconcileTick(
          { em: orm.em, saas, takeBudget: async (_tenant, wanted) => wanted },
          { periodMs: 7 * 86_400_000, concurrency: CONCURRENCY },
        );
        if (tick.completed.includes(task.reconciliationId)) break;
      }
    });
    const used = process.cpuUsage(cpu);
    return {
      seconds: (performance.now() - started) / 1000,
      cpuMs: (used.user + used.system) / 1000,
      peakRss,
      // `maxRSS` is in kilobytes.
      maxRss: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    await saas.close();
    await orm.close(true);
  }
}

interface NetworkConsumer {
  externalConsumerId: string;
  clickToPayCustomerId: string;
  status: string;
  paymentInstruments: {
    externalInstrumentId: string;
    clickToPayPaymentInstrumentId: string;
    status: string;
  }[];
}

async function waitForNetwork(simUrl: string, tenant: string, entities: number): Promise<NetworkConsumer[]> {
  for (let i = 0; i < 600; i++) {
    const state = (await (await fetch(`${simUrl}/__sim/state`)).json()) as {
      tenants: Record<string, { consumers: NetworkConsumer[] }>;
    };
    const consumers = state.tenants[tenant]?.consumers ?? [];
    if (consumers.length === entities && consumers.every((c) => c.status === 'ACTIVE')) return consumers;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the simulator did not enrol every entity');
}

/** Our side of what the network holds: customers and cards ACTIVE with the network's ids. */
async function writeAgreeingRecords(databaseUrl: string, tenant: string, network: NetworkConsumer[]) {
  const rows = network.map((c) => ({
    entityId: c.externalConsumerId,
    customerId: c.clickToPayCustomerId,
    kitNo: c.paymentInstruments[0]?.externalInstrumentId,
    instrumentId: c.paymentInstruments[0]?.clickToPayPaymentInstrumentId,
  }));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `with r as (select * from jsonb_to_recordset($2::jsonb)
                    as r("entityId" text, "customerId" text, "kitNo" text, "instrumentId" text)),
       e as (insert into business_entity (tenant, entity_id, first_name, last_name, email, phone_country_code,
                    phone_number, address, locale, country_code, consent)
             select $1, r."entityId", 'Aisha', 'Khan', r."entityId" || '@example.com', '971', '501234567',
                    '{"line1":"1 Marina Walk","city":"Dubai","postalCode":"00000","countryCode":"AE"}'::jsonb,
                    'en_AE', 'AE', '{"accepted":true,"version":"1.0","acceptedAt":"2026-11-23T10:00:00Z"}'::jsonb
               from r returning pkey, entity_id),
       k as (insert into kit (tenant, kit_no, business_entity_fkey, pan_ciphertext, pan_key_id, pan_first6, pan_last4,
                    expiry_month, expiry_year, name_on_card)
             select $1, r."kitNo", e.pkey, 'not-a-ciphertext', 'bench', '411111', '1111', 12, 2030, 'AISHA KHAN'
               from r join e on e.entity_id = r."entityId" returning pkey, kit_no),
       c as (insert into ctp_customer (tenant, entity_id, "clickToPayCustomerId", ctp_entity_status, business_entity_fkey)
             select $1, r."entityId", r."customerId", 'ACTIVE', e.pkey
               from r join e on e.entity_id = r."entityId" returning pkey, entity_id)
       insert into ctp_payment (tenant, "clickToPayPaymentInstumentId", ctp_kit_status, ctcustomer_pkey, kit_pkey)
       select $1, r."instrumentId", 'ACTIVE', c.pkey, k.pkey
         from r join c on c.entity_id = r."entityId" join k on k.kit_no = r."kitNo"`,
      [tenant, JSON.stringify(rows)],
    );
  } finally {
    await client.end();
  }
}

const task = process.env.BENCH_RECONCILE_TASK;
if (task !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await reconcileUntilDone(JSON.parse(task) as WorkerTask)));
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureReconciliation(
    loadConfig(process.env).DATABASE_URL,
    Number(process.env.BENCH_RECONCILE_ENTITIES ?? 2000),
  );
  console.log(formatReconciliation(result));
  process.exit(0);
}

export function formatReconciliation(result: ReconcileResult): string {
  const rss = `peak RSS ${result.peakRssMb.toFixed(0)} MB of the reconciling worker (target < ${RSS_TARGET_MB} MB${result.maxRssMb < RSS_TARGET_MB ? '' : ', OVER'}; ${result.maxRssMb.toFixed(0)} MB lifetime peak)`;
  return `reconciliation: ${result.entitiesPerSecond.toFixed(0)} entities checked/s against the simulator (${result.entities} entities, ${result.agreed} agreed), CPU ${result.cpuMsPerEntity.toFixed(2)} ms per entity, ${rss}`;
}

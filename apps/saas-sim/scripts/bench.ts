import { type ChildProcess, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@ctp/core/logging';
import { startHttpServer } from '@ctp/core/runtime';
import autocannon from 'autocannon';
import { createSimulator } from '../src/simulator.ts';

/**
 * `pnpm --filter @ctp/saas-sim bench`: throughput of `GET /status` with faults off, against a
 * bare node:http server answering the same JSON as the floor of what Node can do here.
 * Each server runs in its own child process, so the load generator (this process) does not
 * steal its event loop; the ratio simulator/baseline is what to watch. Loopback only, bounded
 * in time. BENCH_SECONDS (default 5) and BENCH_CONNECTIONS (default 50) tune a run.
 */

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const API_KEY = 'bench-saas-api-key-0123456789';
const TENANT = 'ENBDTABBY';
const HEADERS = {
  authorization: `Bearer ${API_KEY}`,
  'x-tenant-id': TENANT,
  'x-request-id': '00000000-0000-4000-8000-000000000000',
};

interface Ready {
  readonly port: number;
  readonly requestTraceId: string;
  readonly body: string;
}

// ---- child side: one server per process ----

async function serveSimulator(): Promise<Ready> {
  const logger = createLogger({ name: 'saas-sim', level: 'warn' });
  const simulator = createSimulator({
    apiKey: API_KEY,
    webhookSecret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
    webhookUrl: null,
    tenants: [TENANT],
    completionDelayMs: 0,
    logger,
  });
  const server = await startHttpServer(simulator.app, { port: 0, hostname: '127.0.0.1', logger });
  const base = `http://127.0.0.1:${server.port}`;
  const accepted = await fetch(`${base}/addCustomerAndPaymentInstrument`, {
    method: 'POST',
    headers: { ...HEADERS, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: JSON.stringify({
      consumer: {
        externalConsumerId: 'bench-consumer',
        firstName: 'Aisha',
        lastName: 'Khan',
        emails: ['aisha@example.com'],
        phones: [{ countryCode: '971', number: '501234567' }],
        locale: 'en_AE',
        countryCode: 'AE',
      },
      paymentInstrument: {
        externalInstrumentId: '100000011561',
        accountNumber: '4111111111111111',
        expirationDate: { month: '12', year: '2029' },
        nameOnCard: 'AISHA KHAN',
        billingAddress: { line1: '1 Marina Walk', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
      },
    }),
  });
  const { requestTraceId } = (await accepted.json()) as { requestTraceId: string };
  await simulator.idle();
  const status = await fetch(`${base}/status?requestTraceId=${requestTraceId}`, { headers: HEADERS });
  return { port: server.port, requestTraceId, body: await status.text() };
}

function serveBaseline(body: string): Promise<Ready> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as AddressInfo).port, requestTraceId: '', body }),
    );
  });
}

// ---- parent side: start both, load each in turn ----

function start(kind: 'simulator' | 'baseline', body = ''): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind], {
    env: { ...process.env, BENCH_BODY: body },
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => {
    child.once('message', (ready) => resolve({ child, ready: ready as Ready }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

async function load(name: string, url: string, headers: Record<string, string>) {
  // A short warm-up so the JIT has settled before the measured run.
  await autocannon({ url, connections: CONNECTIONS, duration: 1, headers });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
  const line = {
    server: name,
    'req/s': Math.round(result.requests.average),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  return line;
}

async function main(): Promise<void> {
  const sim = await start('simulator');
  const baseline = await start('baseline', sim.ready.body);
  try {
    const path = `/status?requestTraceId=${sim.ready.requestTraceId}`;
    const rows = [
      await load('baseline node:http', `http://127.0.0.1:${baseline.ready.port}${path}`, {}),
      await load('saas-sim', `http://127.0.0.1:${sim.ready.port}${path}`, HEADERS),
    ];
    console.log(`GET /status, ${CONNECTIONS} connections, ${SECONDS} s each, Node ${process.version}`);
    console.table(rows);
    const [base, simulator] = rows;
    if (base !== undefined && simulator !== undefined) {
      console.log(`ratio simulator/baseline: ${(simulator['req/s'] / base['req/s']).toFixed(2)}`);
      if (simulator.non2xx > 0 || simulator.errors > 0) process.exitCode = 1;
    }
  } finally {
    sim.child.kill();
    baseline.child.kill();
  }
}

if (process.argv[2] === 'serve') {
  const ready =
    process.argv[3] === 'baseline'
      ? await serveBaseline(process.env.BENCH_BODY ?? '{}')
      : await serveSimulator();
  process.send?.(ready);
  // The parent ends this process when it is done; if the parent dies, so does the channel.
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

import { randomBytes } from 'node:crypto';
import { syncConfiguredApiKeys } from '@ctp/core/auth';
import { findLeakedPans } from '@ctp/core/cards';
import { DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import { CtpOperation } from '@ctp/core/entities';
import { createRedis } from '@ctp/core/queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { TEST_API_KEY, TEST_WEBHOOK_SECRET } from '@ctp/saas-sim/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceivedSpan, startOtlpReceiver } from '../src/otlp-receiver.ts';
import { freePort, spawnTraced, type TracedProcess } from '../src/traced-process.ts';

// One trace per operation, across processes: the api, the worker and the simulator run as
// `pnpm start` runs them (tracing preloaded), exporting OTLP/HTTP to a receiver in this process.
// A registration's spans from all three share one trace id and nest in the order the work
// happened; a worker SIGKILLed in the middle of the SaaS call leaves the retry, in another worker,
// in the same trace. No exported attribute holds a card number.

const KEY = loadConfig({}).API_KEYS[0]?.key ?? '';
const PANS = ['4111111111111111', '5555555555554444'];

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let db: TestDatabase;
let redis: Redis;
let env: Record<string, string>;
let apiUrl: string;
let simUrl: string;
const processes: TracedProcess[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  db = await createTestDatabase();
  await syncConfiguredApiKeys(db.orm.em, loadConfig({}).API_KEYS, DEV_DEFAULTS.API_KEY_PEPPER);
  const suffix = randomBytes(4).toString('hex');
  const [apiPort, simPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${apiPort}`;
  simUrl = `http://127.0.0.1:${simPort}`;
  env = {
    DATABASE_URL: db.databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `{e2e-otel-${suffix}}`,
    NOTIFICATION_STREAM: `e2e-otel-notifications-${suffix}`,
    API_PORT: String(apiPort),
    SAAS_SIM_PORT: String(simPort),
    WORKER_PORT: '0',
    CTP_SAAS_BASE_URL: simUrl,
    CTP_SAAS_API_KEY: TEST_API_KEY,
    CTP_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    WEBHOOK_URL: `${apiUrl}/v1/ctp/webhooks/saas`,
    PAN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    SAAS_SIM_COMPLETION_DELAY_MS: '100',
    TRACE_FIRST_POLL_MS: '60000',
    WORKER_LOCK_DURATION_MS: '2000',
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  redis = createRedis(env.REDIS_URL ?? '');
  processes.push(await spawnTraced('saas-sim', env));
  processes.push(await spawnTraced('api', env));
}, 60_000);

afterAll(async () => {
  for (const child of processes) await child.kill().catch(() => undefined);
  await redis?.quit();
  await db?.drop();
  await receiver?.close();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function customer(entityId: string, kitNo: string, pan: string): Promise<void> {
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
  expect(entity.status).toBeLessThan(300);
  const kit = await call('PUT', `/v1/entities/${entityId}/kits/${kitNo}`, {
    pan,
    expiry: { month: '12', year: '2030' },
    nameOnCard: 'AISHA KHAN',
  });
  expect(kit.status).toBeLessThan(300);
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The stream entry of an operation's outcome, as its fields. */
async function streamEntry(operationId: string): Promise<Record<string, string>> {
  return until(`the stream entry of ${operationId}`, async () => {
    const entries = await redis.xrange(env.NOTIFICATION_STREAM ?? '', '-', '+');
    for (const [, fields] of entries) {
      const record: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i] ?? ''] = fields[i + 1] ?? '';
      if (record.notificationId === operationId) return record;
    }
    return undefined;
  });
}

async function register(entityId: string, kitNo: string): Promise<string> {
  const accepted = await call('POST', `/v1/ctp/entities/${entityId}/registration`, { kitNo });
  expect(accepted.status).toBe(202);
  return String(accepted.body.operationId);
}

const spansOf = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);

/** The names of a span's ancestors in its trace, nearest first. */
function ancestors(span: ReceivedSpan, trace: readonly ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const chain: ReceivedSpan[] = [];
  for (let parent = byId.get(span.parentSpanId); parent; parent = byId.get(parent.parentSpanId))
    chain.push(parent);
  return chain;
}

function only(trace: readonly ReceivedSpan[], predicate: (span: ReceivedSpan) => boolean, what: string) {
  const found = trace.filter(predicate);
  expect(found, what).not.toHaveLength(0);
  return found;
}

const isSimRegistration = (span: ReceivedSpan) =>
  span.service === 'ctp-saas-sim' && span.name === 'POST /addCustomerAndPaymentInstrument';

const traceIdOf = (traceparent: string) => traceparent.split('-')[1] ?? '';

describe('one trace per operation', () => {
  it("joins a registration's spans from the api, the worker and the simulator, in causal order", async () => {
    const worker = await spawnTraced('worker', env);
    processes.push(worker);
    await customer('e-otel', 'k-otel', PANS[0] ?? '');
    const operationId = await register('e-otel', 'k-otel');

    const entry = await streamEntry(operationId);
    const operation = await db.orm.em.fork().findOneOrFail(CtpOperation, { id: operationId });
    expect(operation.status).toBe('SUCCESS');
    expect(operation.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = traceIdOf(operation.traceparent ?? '');
    // The stream entry keeps its fields and carries the trace on.
    expect(Object.keys(entry).sort()).toEqual(['notificationId', 'payload', 'traceparent']);
    expect(traceIdOf(entry.traceparent ?? '')).toBe(traceId);

    const publishedSpanId = (entry.traceparent ?? '').split('-')[2];
    // Each process exports on its own schedule: wait until the notification's span is joined to
    // the root through every span between them.
    const trace = await until('the notification span, joined to the root', () => {
      const spans = spansOf(traceId);
      const published = spans.find((s) => s.spanId === publishedSpanId);
      return published !== undefined && ancestors(published, spans).some((s) => s.parentSpanId === '')
        ? spans
        : undefined;
    });
    console.log(
      JSON.stringify(
        receiver.spans.map((s) => [s.service, s.name, s.traceId.slice(0, 6), s.parentSpanId.slice(0, 4)]),
      ),
    );
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(['ctp-api', 'ctp-worker', 'ctp-saas-sim']));

    // The root: the api's request, which names the operation.
    const [root] = only(trace, (s) => s.parentSpanId === '', 'the root');
    expect(root).toMatchObject({ service: 'ctp-api', name: 'POST /v1/ctp/entities/:entityId/registration' });
    expect(root?.attributes).toMatchObject({
      'ctp.operation_id': operationId,
      'ctp.event': 'CTP_REGISTER_ENTITY_AND_KIT',
      'ctp.tenant': 'ENBDTABBY',
      'ctp.outcome': 'accepted',
    });
    const names = (span: ReceivedSpan) => ancestors(span, trace).map((s) => s.name);

    // root → relay publishes the submit job → bullmq runs it → submit → the SaaS call (undici)
    // → the simulator's span.
    const [submit] = only(trace, (s) => s.name === 'ctp submit', 'the submit span');
    expect(submit?.attributes).toMatchObject({ 'ctp.operation_id': operationId, 'ctp.outcome': 'submitted' });
    expect(names(submit as ReceivedSpan)).toEqual(
      expect.arrayContaining(['outbox publish job.submit', root?.name]),
    );
    const [simCall] = only(trace, isSimRegistration, "the simulator's span");
    expect(names(simCall as ReceivedSpan)).toEqual(expect.arrayContaining(['ctp submit', root?.name]));
    // The webhook: received by the api, which resolves the stored trace in the same transaction
    // (no webhook job: `receiveWebhook`).
    const [receive] = only(trace, (s) => s.name === 'ctp webhook receive', 'the webhook receipt');
    expect(receive?.attributes).toMatchObject({ 'ctp.outcome': 'SUCCESS' });
    expect(trace.filter((s) => s.name === 'ctp webhook')).toEqual([]);
    // The notification's publication: the resolve's child, whose context the stream entry holds.
    const published = trace.find((s) => s.spanId === publishedSpanId) as ReceivedSpan;
    expect(published).toMatchObject({ service: 'ctp-worker', name: 'outbox publish notification' });
    expect(published.attributes).toMatchObject({ 'ctp.operation_id': operationId, 'ctp.outcome': 'SUCCESS' });
    expect(names(published)).toEqual(expect.arrayContaining(['ctp webhook receive', root?.name]));
    // Database statements and Redis commands are in the trace, under the steps that ran them.
    expect(trace.some((s) => s.scope === '@opentelemetry/instrumentation-pg')).toBe(true);
    expect(trace.some((s) => s.scope === '@opentelemetry/instrumentation-ioredis')).toBe(true);

    // Log lines inside a span name it: the api's line about the webhook is in the trace.
    const api = processes[1] as TracedProcess;
    const recorded = api.output
      .join('')
      .split('\n')
      .filter((line) => line.includes('"msg":"webhook recorded"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(recorded.map((line) => line.trace_id)).toContain(traceId);
    expect(recorded.every((line) => typeof line.span_id === 'string')).toBe(true);

    expect(await worker.stop()).toBe(0);
  });

  it('keeps the trace when the worker is killed mid-call and another one retries the job', async () => {
    await customer('e-otel-crash', 'k-otel-crash', PANS[1] ?? '');
    // The SaaS answers slowly: the first worker is in the middle of the call when it is killed.
    await fetch(`${simUrl}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: { min: 4_000, max: 4_000 } }),
    });
    const first = await spawnTraced('worker', env);
    processes.push(first);
    const operationId = await register('e-otel-crash', 'k-otel-crash');
    const operation = await db.orm.em.fork().findOneOrFail(CtpOperation, { id: operationId });
    const traceId = traceIdOf(operation.traceparent ?? '');
    // The simulator's span starts when the call arrives and is exported when it answers; the
    // worker's own spans are still open when it dies (its export never happens).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await first.kill();
    await fetch(`${simUrl}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: { min: 0, max: 0 } }),
    });

    const second = await spawnTraced('worker', env);
    processes.push(second);
    const entry = await streamEntry(operationId);
    expect(traceIdOf(entry.traceparent ?? '')).toBe(traceId);

    const publishedSpanId = (entry.traceparent ?? '').split('-')[2];
    // Each process exports on its own schedule: wait for the notification's span and for the
    // retry's call to the simulator joined to the second worker's spans.
    const trace = await until('the notification span and the retried call', () => {
      const spans = spansOf(traceId);
      const retried = spans
        .filter(isSimRegistration)
        .some((call) => ancestors(call, spans).some((s) => s.pid === second.child.pid));
      return retried && spans.some((s) => s.spanId === publishedSpanId) ? spans : undefined;
    });
    // The retry's call to the simulator is in the operation's trace (the killed worker's call is
    // not always: its span is exported only when the simulator answers the dead connection).
    const simCalls = trace.filter(isSimRegistration);
    expect(simCalls.length).toBeGreaterThanOrEqual(1);
    // The retry ran in the second worker, in the operation's trace, under the api's request.
    const submits = trace.filter((s) => s.name === 'ctp submit');
    expect(submits.map((s) => s.pid)).toContain(second.child.pid);
    expect(submits.map((s) => s.pid)).not.toContain(first.child.pid);
    const [root] = only(trace, (s) => s.parentSpanId === '', 'the root');
    for (const submit of submits) {
      expect(ancestors(submit, trace).map((s) => s.name)).toContain(root?.name);
    }
    expect(simCalls.some((call) => ancestors(call, trace).some((s) => s.pid === second.child.pid))).toBe(
      true,
    );
    expect(await second.stop()).toBe(0);
  });

  it('exports no card number, key or secret in any span', async () => {
    await until('spans', () => (receiver.spans.length > 0 ? true : undefined));
    const exported = JSON.stringify(receiver.spans.map((span) => span.raw));
    // Span and trace ids are random hex; one in about two thousand holds a Luhn-valid digit run.
    expect(findLeakedPans(exported)).toEqual([]);
    for (const pan of PANS) expect(exported).not.toContain(pan);
    for (const secret of [KEY, TEST_API_KEY, TEST_WEBHOOK_SECRET, env.PAN_ENCRYPTION_KEY ?? '']) {
      expect(exported).not.toContain(secret);
    }
  });
});

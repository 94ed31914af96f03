import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { syncConfiguredApiKeys } from '@ctp/core/auth';
import { findLeakedPans } from '@ctp/core/cards';
import { DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import { CtpOperation } from '@ctp/core/entities';
import { createRedis } from '@ctp/core/queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { TEST_API_KEY, TEST_WEBHOOK_SECRET } from '@ctp/saas-sim/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { type ReceivedSpan, startOtlpReceiver } from '../src/otlp-receiver.ts';
import { freePort, spawnTraced, type TracedProcess } from '../src/traced-process.ts';

// One trace per operation, across processes: the api, the worker and the simulator run as
// `pnpm start` runs them (tracing preloaded), exporting OTLP/HTTP to a receiver in this process.
// A registration's spans from all three share one trace id and nest in the order the work
// happened; a worker SIGKILLed in the middle of the SaaS call leaves the retry, in another worker,
// in the same trace; a downstream consumer of the stream continues it from the entry's
// `traceparent`. No exported attribute holds a card number.

const KEY = loadConfig({}).API_KEYS[0]?.key ?? '';
const PANS = ['4111111111111111', '5555555555554444'];

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let db: TestDatabase;
let redis: Redis;
let env: Record<string, string>;
let apiUrl: string;
let simUrl: string;
const processes: TracedProcess[] = [];
const consumers: ChildProcess[] = [];

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
  for (const child of consumers) child.kill('SIGKILL');
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

/** The farthest ancestor of `span` that arrived (the span itself if its parent did not). */
const topOf = (span: ReceivedSpan, trace: readonly ReceivedSpan[]) => ancestors(span, trace).at(-1) ?? span;

/** Whether every span from `span` up to a root has arrived. */
const joinedToRoot = (span: ReceivedSpan, trace: readonly ReceivedSpan[]) =>
  topOf(span, trace).parentSpanId === '';

function only(trace: readonly ReceivedSpan[], predicate: (span: ReceivedSpan) => boolean, what: string) {
  const found = trace.filter(predicate);
  expect(found, what).not.toHaveLength(0);
  return found;
}

const isSimRegistration = (span: ReceivedSpan) =>
  span.service === 'ctp-saas-sim' && span.name === 'POST /addCustomerAndPaymentInstrument';

/** The api's HTTP span of a webhook delivery. */
const isDelivery = (span: ReceivedSpan) =>
  span.service === 'ctp-api' && span.name === 'POST /v1/ctp/webhooks/saas';

const traceIdOf = (traceparent: string) => traceparent.split('-')[1] ?? '';
const spanIdOf = (traceparent: string) => traceparent.split('-')[2] ?? '';

/** What the tests read of a span as OTLP/JSON carries it, beyond `ReceivedSpan`. */
interface RawSpan {
  readonly kind: number;
  readonly links?: readonly { readonly traceId: string; readonly spanId: string }[];
}

/** On failure, prints the trace's spans (service, pid, name, ids) to show what arrived. */
function dumpOnFailure(traceId: () => string): void {
  onTestFailed(() => {
    const lines = spansOf(traceId()).map((s) =>
      [s.service, s.pid, s.name, s.spanId, s.parentSpanId || '(root)'].join(' '),
    );
    console.error(`spans of trace ${traceId()}:\n${lines.join('\n')}`);
  });
}

/**
 * Asserts that `expected` are ancestors of `span` in this order (nearest first), with possibly
 * other spans between them; the last one is the root.
 */
function expectLineage(
  span: ReceivedSpan,
  trace: readonly ReceivedSpan[],
  expected: readonly (readonly [string, (span: ReceivedSpan) => boolean])[],
): void {
  const chain = ancestors(span, trace);
  let from = 0;
  for (const [what, matches] of expected) {
    const at = chain.findIndex((s, i) => i >= from && matches(s));
    expect(
      at,
      `${what} among the ancestors of ${span.name}, after the ones before it`,
    ).toBeGreaterThanOrEqual(0);
    from = at + 1;
  }
  expect(from, `${expected.at(-1)?.[0]} is the root`).toBe(chain.length);
  expect(chain.at(-1)?.parentSpanId).toBe('');
}

const CONSUMER_CHILD = fileURLToPath(
  new URL('../../../packages/core/src/notifications/consumer-traced-child.ts', import.meta.url),
);

/** A downstream system's consumer of the stream, in a process of its own with tracing on. */
async function spawnConsumer(group: string): Promise<{ child: ChildProcess; output: string[] }> {
  const child = spawn(
    process.execPath,
    [CONSUMER_CHILD, env.REDIS_URL ?? '', env.NOTIFICATION_STREAM ?? '', group],
    {
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  consumers.push(child);
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await until('the consumer to start', () => {
    if (child.exitCode !== null) throw new Error(`the consumer exited: ${output.join('')}`);
    return output.join('').includes('ready\n') ? true : undefined;
  });
  return { child, output };
}

describe('one trace per operation', () => {
  it("joins a registration's spans from the api, the worker and the simulator, in causal order", async () => {
    const worker = await spawnTraced('worker', env);
    processes.push(worker);
    // A worker left running would take the next test's job.
    onTestFailed(() => worker.kill());
    await customer('e-otel', 'k-otel', PANS[0] ?? '');
    const operationId = await register('e-otel', 'k-otel');

    const entry = await streamEntry(operationId);
    const operation = await db.orm.em.fork().findOneOrFail(CtpOperation, { id: operationId });
    expect(operation.status).toBe('SUCCESS');
    expect(operation.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = traceIdOf(operation.traceparent ?? '');
    dumpOnFailure(() => traceId);
    // The stream entry keeps its fields and carries the trace on.
    expect(Object.keys(entry).sort()).toEqual(['notificationId', 'payload', 'traceparent']);
    expect(traceIdOf(entry.traceparent ?? '')).toBe(traceId);

    const publishedSpanId = spanIdOf(entry.traceparent ?? '');
    // Each process exports on its own schedule: wait until the notification's span, the SaaS
    // call and the webhook's delivery are joined to the root through every span between them.
    const trace = await until('the notification, the SaaS call and the delivery, joined to the root', () => {
      const spans = spansOf(traceId);
      const joined = (span: ReceivedSpan | undefined) => span !== undefined && joinedToRoot(span, spans);
      return joined(spans.find((s) => s.spanId === publishedSpanId)) &&
        joined(spans.find(isSimRegistration)) &&
        joined(spans.find(isDelivery))
        ? spans
        : undefined;
    });
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

    // root → the api publishes the submit job after its commit → bullmq runs it → submit → the
    // SaaS call (undici)
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
    // The receipt continues the operation's stored context, under the request, and links to the
    // delivery's HTTP span (which continues the simulator's span of the SaaS call).
    expect(receive?.parentSpanId).toBe(root?.spanId);
    const [delivery] = only(trace, isDelivery, "the delivery's HTTP span") as [ReceivedSpan];
    expect((receive?.raw as RawSpan | undefined)?.links).toEqual([
      expect.objectContaining({ traceId, spanId: delivery.spanId }),
    ]);
    expect(names(delivery)).toEqual(
      expect.arrayContaining(['POST /addCustomerAndPaymentInstrument', 'ctp submit', root?.name]),
    );
    expect(trace.filter((s) => s.name === 'ctp webhook')).toEqual([]);
    // The notification's publication: the resolve's child, whose context the stream entry holds,
    // by the api, which wrote it (`OutboxPublisher`).
    const published = trace.find((s) => s.spanId === publishedSpanId) as ReceivedSpan;
    expect(published).toMatchObject({ service: 'ctp-api', name: 'outbox publish notification' });
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

    // A downstream consumer continues the trace from the entry's `traceparent`: its "process"
    // span is the child of the notification's publication (and links to it, as OpenTelemetry's
    // messaging conventions ask of a consumer), and the handler runs inside it.
    const consumer = await spawnConsumer('e2e-downstream');
    onTestFinished(() => {
      consumer.child.kill('SIGTERM');
    });
    const handled = await until('the consumer to handle the notification', () =>
      consumer.output
        .join('')
        .split('\n')
        .find((line) => line.startsWith(`handled ${operationId} `)),
    );
    const processed = await until("the consumer's span", () =>
      spansOf(traceId).find(
        (s) => s.service === 'ctp-notification-consumer' && s.name === `process ${env.NOTIFICATION_STREAM}`,
      ),
    );
    expect(processed).toMatchObject({
      name: `process ${env.NOTIFICATION_STREAM}`,
      parentSpanId: publishedSpanId,
      attributes: {
        'messaging.system': 'redis',
        'messaging.operation.type': 'process',
        'messaging.destination.name': env.NOTIFICATION_STREAM,
        'messaging.consumer.group.name': 'e2e-downstream',
        'ctp.notification_id': operationId,
        'ctp.event': 'CTP_REGISTER_ENTITY_AND_KIT',
        'ctp.tenant': 'ENBDTABBY',
        'ctp.outcome': 'handled',
        'ctp.deliveries': 1,
      },
    });
    const raw = processed.raw as RawSpan;
    expect(raw.kind).toBe(5); // OTLP's SPAN_KIND_CONSUMER
    expect(raw.links).toEqual([expect.objectContaining({ traceId, spanId: publishedSpanId })]);
    expect(names(processed)).toEqual(
      expect.arrayContaining(['outbox publish notification', 'ctp webhook receive', root?.name]),
    );
    // The handler's active span is the consumer's: whatever it does is in the operation's trace.
    const [, , handlerTraceparent = ''] = handled.split(' ');
    expect(traceIdOf(handlerTraceparent)).toBe(traceId);
    expect(spanIdOf(handlerTraceparent)).toBe(processed.spanId);

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
    dumpOnFailure(() => traceId);
    const fromFirst = (s: ReceivedSpan) => s.pid === first.child.pid;
    const isSubmitPublication = (s: ReceivedSpan) => s.name === 'outbox publish job.submit';
    const fromApi = (s: ReceivedSpan) => s.service === 'ctp-api';
    // The api has published the submit job after its commit (its span ended and was exported),
    // and the first worker's job has run its first statements: the SaaS call follows them at once (a second is
    // margin for it to leave) and the simulator holds it for 4 s. Its job, submit and HTTP client
    // spans are still open when it is killed.
    await until('the first worker to start the job', () => {
      const spans = spansOf(traceId);
      const published = spans.some((s) => fromApi(s) && isSubmitPublication(s));
      const inJob = spans.some((s) => fromFirst(s) && s.scope === '@opentelemetry/instrumentation-pg');
      return published && inJob ? true : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await first.kill();
    await fetch(`${simUrl}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: { min: 0, max: 0 } }),
    });

    const second = await spawnTraced('worker', env);
    processes.push(second);
    const fromSecond = (s: ReceivedSpan) => s.pid === second.child.pid;
    const entry = await streamEntry(operationId);
    expect(traceIdOf(entry.traceparent ?? '')).toBe(traceId);

    const publishedSpanId = spanIdOf(entry.traceparent ?? '');
    // Each process exports on its own schedule: wait for the retry's call joined to the root
    // through the second worker's spans; the killed worker's call, which the simulator ends (and
    // exports) when its 4 s are up, answering a connection nobody holds any more; and the
    // notification's span with every ancestor up to the root or to that call (see below).
    const trace = await until('the notification span and both calls', () => {
      const spans = spansOf(traceId);
      const calls = spans.filter(isSimRegistration);
      const retried = calls.some(
        (call) => ancestors(call, spans).some(fromSecond) && joinedToRoot(call, spans),
      );
      const published = spans.find((s) => s.spanId === publishedSpanId);
      const top = published && topOf(published, spans);
      const complete = top !== undefined && (top.parentSpanId === '' || isSimRegistration(top));
      return retried && complete && calls.length === 2 ? spans : undefined;
    });
    const [root] = only(trace, (s) => s.parentSpanId === '', 'the root');
    const isRoot = (s: ReceivedSpan) => s === root;
    expect(trace.filter((s) => s.parentSpanId === '')).toHaveLength(1);

    // The killed worker's spans of the job were open when it died and were never exported (the
    // process had no chance to): no submit span of it is in the trace. Its call did reach the
    // simulator in the operation's trace: the simulator's span of it is there, its parent (the
    // killed worker's HTTP client span) lost with the process.
    const submits = trace.filter((s) => s.name === 'ctp submit');
    expect(submits.filter(fromFirst)).toEqual([]);
    const spanIds = new Set(trace.map((s) => s.spanId));
    const [lostCall, ...otherLost] = trace.filter(
      (s) => isSimRegistration(s) && !spanIds.has(s.parentSpanId),
    );
    expect(lostCall, "the killed worker's call, its parent lost").toBeDefined();
    expect(otherLost).toEqual([]);

    // The retry: one submit, in the second worker, which continued the job's context as the api
    // published it (BullMQ's telemetry metadata survives the crash): the simulator's span of the
    // retried call ← the second worker's HTTP call ← its submit ← its job ← the api's publication
    // of the job ← the api's request.
    expect(submits).toHaveLength(1);
    const [submit] = submits as [ReceivedSpan];
    expect(submit).toMatchObject({ service: 'ctp-worker', pid: second.child.pid });
    expect(submit.attributes).toMatchObject({ 'ctp.operation_id': operationId, 'ctp.outcome': 'submitted' });
    const retriedCall = trace.find((s) => isSimRegistration(s) && s !== lostCall) as ReceivedSpan;
    expectLineage(retriedCall, trace, [
      [
        "the second worker's HTTP call",
        (s) => fromSecond(s) && s.scope === '@opentelemetry/instrumentation-undici',
      ],
      ["the second worker's submit", (s) => s === submit],
      ["the api's publication of the job", (s) => fromApi(s) && isSubmitPublication(s)],
      ["the api's request", isRoot],
    ]);
    // Between the submit and the publication, only the second worker's job span.
    const between = ancestors(submit, trace);
    expect(between.slice(0, between.findIndex(isSubmitPublication)).every(fromSecond)).toBe(true);

    // The outcome came by the SaaS's webhook. A receipt continues the operation's stored context,
    // under the request, once the api can find it by the request trace id, i.e. once the retry
    // recorded the SaaS's answer. The SaaS may well have done the work of the killed worker's call
    // (same Idempotency-Key: the retry got the same answer) and sent its webhook before that: the
    // api then cannot know the operation yet and continues the delivery's context, which descends
    // from the killed worker's call. The resolution is then, causally right, under that call,
    // whose parent (the killed worker's HTTP client span) was never exported: the process died.
    // Expected; the trace id is the operation's either way.
    const receipts = only(trace, (s) => s.name === 'ctp webhook receive', 'the webhook receipt');
    for (const receipt of receipts) {
      const parent = trace.find((s) => s.spanId === receipt.parentSpanId);
      const underRequestOrDelivery = parent === root || (parent !== undefined && isDelivery(parent));
      expect(underRequestOrDelivery, 'the receipt is under the request or its delivery').toBe(true);
    }

    // The notification: published after a webhook receipt by whoever resolved it (the api, or the
    // second worker's webhook job when the delivery came before the retry recorded its trace), its
    // lineage whole up to the request or to the killed worker's call; the stream entry carries
    // its context.
    const published = trace.find((s) => s.spanId === publishedSpanId) as ReceivedSpan;
    expect(published).toMatchObject({ name: 'outbox publish notification' });
    expect(fromApi(published) || fromSecond(published), 'published by the api or the second worker').toBe(
      true,
    );
    expect(published.attributes).toMatchObject({ 'ctp.operation_id': operationId, 'ctp.outcome': 'SUCCESS' });
    expect(ancestors(published, trace).map((s) => s.name)).toContain('ctp webhook receive');
    expect([root, lostCall]).toContain(topOf(published, trace));
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

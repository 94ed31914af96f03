import { randomUUID } from 'node:crypto';
import { type AcceptedResponse, acceptedResponseSchema, traceResultSchema } from '@ctp/core/contracts';
import { type CtpEvent, SAAS_ENDPOINT_BY_EVENT } from '@ctp/core/lifecycle';
import { createLogger } from '@ctp/core/logging';
import { startHttpServer } from '@ctp/core/runtime';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { expect } from 'vitest';
import { type RunningSimulator, TEST_API_KEY } from '../src/testing.ts';

/** Fixtures and a tiny HTTP client for the simulator's tests; all traffic is real HTTP. */

export const PAN = '4111111111111111';
export const OTHER_PAN = '5555555555554444';

export function consumer(externalConsumerId: string, firstName = 'Aisha') {
  return {
    externalConsumerId,
    firstName,
    lastName: 'Khan',
    emails: ['aisha@example.com'],
    phones: [{ countryCode: '971', number: '501234567' }],
    locale: 'en_AE',
    countryCode: 'AE',
    consent: { accepted: true, version: '1.0', acceptedAt: '2026-11-23T10:00:00Z' },
  };
}

export function paymentInstrument(externalInstrumentId: string, accountNumber = PAN, city = 'Dubai') {
  return {
    externalInstrumentId,
    accountNumber,
    expirationDate: { month: '12', year: '2029' },
    nameOnCard: 'AISHA KHAN',
    billingAddress: { line1: '1 Marina Walk', city, state: 'DU', postalCode: '00000', countryCode: 'AE' },
  };
}

export function registration(externalConsumerId: string, externalInstrumentId: string, pan = PAN) {
  return {
    consumer: consumer(externalConsumerId),
    paymentInstrument: paymentInstrument(externalInstrumentId, pan),
  };
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
  readonly text: string;
}

async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body, headers: response.headers, text };
}

export interface SendOptions {
  readonly key?: string | null;
  readonly headers?: Record<string, string>;
  readonly rawBody?: string;
}

export function saasClient(url: string, tenant = 'ENBDTABBY', apiKey = TEST_API_KEY) {
  const baseHeaders = (): Record<string, string> => ({
    authorization: `Bearer ${apiKey}`,
    'x-tenant-id': tenant,
    'x-request-id': randomUUID(),
  });
  return {
    async send(event: CtpEvent, body: unknown, options: SendOptions = {}): Promise<Answer> {
      const { method, path } = SAAS_ENDPOINT_BY_EVENT[event];
      const key = options.key === undefined ? randomUUID() : options.key;
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...baseHeaders(),
          'content-type': 'application/json',
          ...(key === null ? {} : { 'idempotency-key': key }),
          ...options.headers,
        },
        body: options.rawBody ?? JSON.stringify(body),
      });
      return answerOf(response);
    },
    async get(pathAndQuery: string, headers: Record<string, string> = {}): Promise<Answer> {
      return answerOf(await fetch(`${url}${pathAndQuery}`, { headers: { ...baseHeaders(), ...headers } }));
    },
    status(requestTraceId: string): Promise<Answer> {
      return this.get(`/status?requestTraceId=${encodeURIComponent(requestTraceId)}`);
    },
    getData(externalConsumerId: string): Promise<Answer> {
      return this.get(`/getData?externalConsumerId=${encodeURIComponent(externalConsumerId)}`);
    },
  };
}

export type SaasClient = ReturnType<typeof saasClient>;

export function accepted(answer: Answer): AcceptedResponse {
  expect(answer.status, answer.text).toBe(202);
  return acceptedResponseSchema.parse(answer.body);
}

/** Polls `/status` until the trace is terminal; returns the validated result. */
export async function settled(client: SaasClient, requestTraceId: string, timeoutMs = 3_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await client.status(requestTraceId);
    expect(answer.status, answer.text).toBe(200);
    const trace = traceResultSchema.parse(answer.body);
    if (trace.status !== 'IN_PROGRESS') return trace;
    if (Date.now() > deadline) throw new Error(`trace ${requestTraceId} still IN_PROGRESS`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Registers a consumer with one card and waits for SUCCESS; returns the network's ids. */
export async function enrolled(client: SaasClient, externalConsumerId: string, externalInstrumentId: string) {
  const { requestTraceId } = accepted(
    await client.send('CTP_REGISTER_ENTITY_AND_KIT', registration(externalConsumerId, externalInstrumentId)),
  );
  const trace = await settled(client, requestTraceId);
  expect(trace.status).toBe('SUCCESS');
  const { clickToPayCustomerId, clickToPayPaymentInstrumentId } = trace;
  if (clickToPayCustomerId === undefined || clickToPayPaymentInstrumentId === undefined) {
    throw new Error('a successful registration names both ids');
  }
  return { clickToPayCustomerId, clickToPayPaymentInstrumentId };
}

export function errorCode(answer: Answer): unknown {
  return (answer.body as { error?: { code?: unknown } }).error?.code;
}

export async function admin(sim: RunningSimulator, method: 'GET' | 'POST', path: string, body?: unknown) {
  return answerOf(
    await fetch(`${sim.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
  );
}

type Reply = ContentfulStatusCode | 204;

export interface Delivery {
  readonly headers: Record<string, string>;
  readonly raw: string;
  readonly body: { type: string; tenant: string; data: Record<string, unknown> };
  readonly at: number;
}

/**
 * A webhook receiver on a free port. `answer(n)` gives the status for the n-th delivery
 * (1-based), 204 by default.
 */
export async function startReceiver(
  answer: (n: number, delivery: Delivery) => Reply | Promise<Reply> = () => 204,
) {
  const deliveries: Delivery[] = [];
  const app = new Hono();
  app.post('/hooks', async (c) => {
    const raw = await c.req.text();
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const delivery: Delivery = { headers, raw, body: JSON.parse(raw) as Delivery['body'], at: Date.now() };
    deliveries.push(delivery);
    const status = await answer(deliveries.length, delivery);
    return status === 204 ? c.body(null, 204) : c.json({ ok: false }, status);
  });
  const logger = createLogger({ name: 'receiver', level: 'silent' });
  const server = await startHttpServer(app, { port: 0, hostname: '127.0.0.1', logger });
  return {
    url: `http://127.0.0.1:${server.port}/hooks`,
    deliveries,
    async waitFor(count: number, timeoutMs = 3_000): Promise<Delivery[]> {
      const deadline = Date.now() + timeoutMs;
      while (deliveries.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} deliveries, got ${deliveries.length}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return deliveries;
    },
    close: () => server.close(),
  };
}

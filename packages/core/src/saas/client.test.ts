import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPans } from '../cards/pan.ts';
import { createLogger } from '../logging/logger.ts';
import { SaasClient } from './client.ts';
import { SaasError } from './errors.ts';

// A real HTTP peer whose answers the test chooses per request, to reach every failure class
// over the wire. The contract tests against the simulator live in apps/saas-sim/test.
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler = (_req, _body, res) => res.end();
const seen: { headers: IncomingMessage['headers']; body: string; url: string | undefined }[] = [];
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      seen.push({ headers: req.headers, body, url: req.url });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const PAN = '4111111111111111';
const registration = {
  consumer: {
    externalConsumerId: 'e-1',
    firstName: 'Aisha',
    lastName: 'Khan',
    emails: ['aisha@example.com'],
    phones: [{ countryCode: '971', number: '501234567' }],
    locale: 'en_AE',
    countryCode: 'AE',
  },
  paymentInstrument: {
    externalInstrumentId: '100000011561',
    accountNumber: PAN,
    expirationDate: { month: '12', year: '2029' },
    nameOnCard: 'AISHA KHAN',
    billingAddress: { line1: '1 Road', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
  },
};

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

async function failure(work: Promise<unknown>): Promise<SaasError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof SaasError) return error;
    throw error;
  }
  throw new Error('expected a SaasError');
}

describe('SaasClient', () => {
  it('sends the contract headers, a fresh X-Request-Id per attempt, and reads the 202', async () => {
    const client = new SaasClient({ baseUrl, apiKey: 'key-0123456789abcdef' });
    handler = (_req, _body, res) => json(res, 202, { requestTraceId: 't-1', status: 'IN_PROGRESS' });
    seen.length = 0;
    const options = { idempotencyKey: '6f1c1a8e-4d7b-4a55-9b0a-4b1d2f0e9c11' };
    await expect(client.addCustomerAndPaymentInstrument('ENBDTABBY', registration, options)).resolves.toEqual(
      {
        requestTraceId: 't-1',
        status: 'IN_PROGRESS',
      },
    );
    await client.addCustomerAndPaymentInstrument('ENBDTABBY', registration, options);
    const [first, second] = seen;
    expect(first?.url).toBe('/addCustomerAndPaymentInstrument');
    expect(first?.headers).toMatchObject({
      authorization: 'Bearer key-0123456789abcdef',
      'x-tenant-id': 'ENBDTABBY',
      'idempotency-key': options.idempotencyKey,
      'content-type': 'application/json',
    });
    expect(first?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.headers['x-request-id']).not.toBe(first?.headers['x-request-id']);
    expect(JSON.parse(first?.body ?? '{}')).toEqual(registration);
    await client.close();
  });

  it('classifies 4xx as permanent and 5xx, 429 with Retry-After, timeouts and refused connections as retryable', async () => {
    const client = new SaasClient({ baseUrl, apiKey: 'key-0123456789abcdef', timeoutMs: 200 });
    const opts = { idempotencyKey: 'k-1' };
    handler = (_req, _body, res) =>
      json(res, 409, { error: { code: 'CONFLICT', message: 'already enrolled' } });
    expect(
      await failure(client.removeCustomer('T', { externalConsumerId: 'e', clickToPayCustomerId: 'c' }, opts)),
    ).toMatchObject({
      kind: 'permanent',
      code: 'CONFLICT',
      status: 409,
    });
    handler = (_req, _body, res) => json(res, 503, { error: { code: 'UNAVAILABLE', message: 'try later' } });
    expect(await failure(client.getStatus('T', 't-1'))).toMatchObject({
      kind: 'retryable',
      code: 'UNAVAILABLE',
      status: 503,
    });
    handler = (_req, _body, res) =>
      json(res, 429, { error: { code: 'RATE_LIMITED', message: 'slow down' } }, { 'retry-after': '7' });
    expect(await failure(client.getStatus('T', 't-1'))).toMatchObject({
      kind: 'retryable',
      code: 'RATE_LIMITED',
      retryAfterMs: 7000,
    });
    handler = (_req, _body, res) => json(res, 200, { not: 'a trace' });
    expect(await failure(client.getStatus('T', 't-1'))).toMatchObject({
      kind: 'retryable',
      code: 'INVALID_RESPONSE',
    });
    handler = (_req, _body, res) => setTimeout(() => json(res, 200, {}), 1_000);
    expect(await failure(client.getStatus('T', 't-1'))).toMatchObject({ kind: 'retryable', code: 'TIMEOUT' });
    await client.close();

    const nobody = new SaasClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'key-0123456789abcdef' });
    expect(await failure(nobody.getStatus('T', 't-1'))).toMatchObject({
      kind: 'retryable',
      code: 'CONNECTION',
    });
    await nobody.close();
  });

  it('refuses to send a body the contract refuses, naming fields but never the PAN', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      name: 't',
      level: 'debug',
      destination: { write: (l: string) => void lines.push(l) },
    });
    const client = new SaasClient({ baseUrl, apiKey: 'key-0123456789abcdef', logger });
    seen.length = 0;
    const bad = {
      ...registration,
      paymentInstrument: { ...registration.paymentInstrument, accountNumber: '4111111111111112' },
    };
    const error = await failure(client.addCustomerAndPaymentInstrument('T', bad, { idempotencyKey: 'k' }));
    expect(error).toMatchObject({ kind: 'permanent', code: 'INVALID_OUTGOING_REQUEST' });
    expect(error.message).toContain('paymentInstrument.accountNumber');
    expect(seen).toHaveLength(0);

    // The SaaS echoing a PAN back in its error: masked before it reaches the error or a log line.
    handler = (_req, _body, res) =>
      json(res, 400, {
        error: { code: 'INVALID_REQUEST', message: `bad card ${PAN}`, details: [{ field: 'x', value: PAN }] },
      });
    const echoed = await failure(
      client.addCustomerAndPaymentInstrument('T', registration, { idempotencyKey: 'k' }),
    );
    expect(findPans(`${echoed.message} ${JSON.stringify(echoed.details)} ${lines.join('')}`)).toEqual([]);
    await client.close();
  });

  it('cleans every answer where it enters: /status, /getData and error bodies come back masked and storable', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      name: 't',
      level: 'debug',
      destination: { write: (l: string) => void lines.push(l) },
    });
    const client = new SaasClient({ baseUrl, apiKey: 'key-0123456789abcdef', logger });
    handler = (_req, _body, res) =>
      json(res, 200, {
        requestTraceId: 't-1',
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        status: 'FAILED',
        externalConsumerId: 'e-1',
        error: {
          code: 'REQUEST_REJECTED',
          message: `card ${PAN} rejected\u0000`,
          details: 'PAN 4111 1111 1111 1111 \ud800',
        },
        updatedAt: '2026-11-23T10:00:05Z',
      });
    expect((await client.getStatus('T', 't-1')).error).toEqual({
      code: 'REQUEST_REJECTED',
      message: 'card 411111******1111 rejected\uFFFD',
      details: 'PAN 411111******1111 \uFFFD',
    });

    handler = (_req, _body, res) =>
      json(res, 200, {
        clickToPayCustomerId: 'c-1',
        externalConsumerId: 'e-1',
        status: 'ACTIVE',
        consumer: {
          firstName: 'Aisha\u0000',
          lastName: `Khan ${PAN}`,
          emails: ['4111-1111-1111-1111@example.com'],
          phones: [{ countryCode: '971', number: '501234567' }],
          locale: 'en_AE',
          countryCode: 'AE',
        },
        paymentInstruments: [],
      });
    const data = await client.getData('T', 'e-1');
    expect(data.consumer).toMatchObject({
      firstName: 'Aisha\uFFFD',
      lastName: 'Khan 411111******1111',
      emails: ['411111******1111@example.com'],
    });

    handler = (_req, _body, res) =>
      json(res, 409, {
        error: { code: 'CONFLICT', message: `card ${PAN} busy\u0000`, details: [{ [PAN]: 'x\ud800' }] },
      });
    const conflict = await failure(client.getStatus('T', 't-1'));
    expect(conflict.message).toBe('/status: 409 CONFLICT: card 411111******1111 busy\uFFFD');
    expect(conflict.details).toEqual([{ '411111******1111': 'x\uFFFD' }]);

    // An error code longer than its column is not the contract's error body.
    handler = (_req, _body, res) => json(res, 409, { error: { code: 'C'.repeat(65), message: 'm' } });
    expect(await failure(client.getStatus('T', 't-1'))).toMatchObject({
      code: 'HTTP_409',
      kind: 'permanent',
    });
    expect(findPans(lines.join(''))).toEqual([]);
    await client.close();
  });
});

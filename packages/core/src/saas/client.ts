import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Pool } from 'undici';
import type { z } from 'zod';
import {
  type AcceptedResponse,
  acceptedResponseSchema,
  type NetworkData,
  networkDataSchema,
  type SaasRequestBody,
  saasErrorBodySchema,
  saasRequestSchemas,
  type TraceResult,
  traceResultSchema,
} from '../contracts/saas.ts';
import { type CtpEvent, SAAS_ENDPOINT_BY_EVENT, SAAS_READ_ENDPOINTS } from '../lifecycle/events.ts';
import { readInboundJson } from '../text/inbound.ts';
import { isConnectionError, isTimeout, kindOfStatus, parseRetryAfter, SaasError } from './errors.ts';

export interface SaasClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Whole-request deadline (connect, headers and body); a timeout is retryable. */
  readonly timeoutMs?: number;
  /** Keep-alive connections kept open to the SaaS. */
  readonly connections?: number;
  readonly logger?: Logger;
  /** Called after every attempt, for metrics. */
  readonly onCall?: (call: SaasCallRecord) => void;
}

export interface SaasCallRecord {
  readonly endpoint: string;
  readonly tenant: string;
  readonly status: number | undefined;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'retryable' | 'permanent';
  readonly code?: string;
}

export interface MutationOptions {
  /** The platform's operation id: the same for every retry of one operation. */
  readonly idempotencyKey: string;
}

type Method = 'GET' | 'POST' | 'PUT';

/** One operation request: an event with the body its endpoint takes. */
export type SaasRequest = {
  [E in CtpEvent]: { readonly event: E; readonly body: SaasRequestBody<E> };
}[CtpEvent];

/**
 * The CTP SaaS client: one typed method per endpoint of the contract, one HTTP attempt per
 * call (retries belong to the job queue), bodies validated against the contract's schemas on
 * the way out and in, keep-alive pooling through undici, a fresh `X-Request-Id` per attempt.
 * Every answer body, success or error, is read through `readInboundJson` (`text/inbound.ts`)
 * before anything looks at it: what leaves this client holds no card number and no text the
 * database cannot store.
 */
export class SaasClient {
  readonly #pool: Pool;
  readonly #apiKey: string;
  readonly #basePath: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #onCall: ((call: SaasCallRecord) => void) | undefined;

  constructor(options: SaasClientOptions) {
    const base = new URL(options.baseUrl);
    this.#pool = new Pool(base.origin, {
      connections: options.connections ?? 32,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
    this.#basePath = base.pathname.replace(/\/$/, '');
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#logger = options.logger;
    this.#onCall = options.onCall;
  }

  /** Sends the operation of `event` to its endpoint (seed: "SaaS API Endpoints"). Never throws synchronously. */
  async submit<E extends CtpEvent>(
    event: E,
    tenant: string,
    body: SaasRequestBody<E>,
    options: MutationOptions,
  ): Promise<AcceptedResponse> {
    const endpoint = SAAS_ENDPOINT_BY_EVENT[event];
    const schema: z.ZodType = saasRequestSchemas[event];
    return this.#call(endpoint.method, endpoint.path, tenant, {
      body: this.#validateOutgoing(schema, body, endpoint.path),
      idempotencyKey: options.idempotencyKey,
      answer: acceptedResponseSchema,
    });
  }

  /** The same as `submit`, for a request built as an event/body pair (see `SaasRequest`). */
  submitRequest(tenant: string, request: SaasRequest, options: MutationOptions): Promise<AcceptedResponse> {
    return this.submit(request.event, tenant, request.body, options);
  }

  addCustomerAndPaymentInstrument(
    tenant: string,
    body: SaasRequestBody<'CTP_REGISTER_ENTITY_AND_KIT'>,
    options: MutationOptions,
  ): Promise<AcceptedResponse> {
    return this.submit('CTP_REGISTER_ENTITY_AND_KIT', tenant, body, options);
  }

  addPaymentInstrument(tenant: string, body: SaasRequestBody<'CTP_ADD_KIT'>, options: MutationOptions) {
    return this.submit('CTP_ADD_KIT', tenant, body, options);
  }

  removeCustomer(tenant: string, body: SaasRequestBody<'CTP_REMOVE_ENTITY'>, options: MutationOptions) {
    return this.submit('CTP_REMOVE_ENTITY', tenant, body, options);
  }

  removePaymentInstrument(tenant: string, body: SaasRequestBody<'CTP_REMOVE_KIT'>, options: MutationOptions) {
    return this.submit('CTP_REMOVE_KIT', tenant, body, options);
  }

  updateCustomerData(tenant: string, body: SaasRequestBody<'CTP_UPDATE_ENTITY'>, options: MutationOptions) {
    return this.submit('CTP_UPDATE_ENTITY', tenant, body, options);
  }

  updatePaymentInstrument(tenant: string, body: SaasRequestBody<'CTP_UPDATE_KIT'>, options: MutationOptions) {
    return this.submit('CTP_UPDATE_KIT', tenant, body, options);
  }

  /** `GET /status`: the trace's result now. */
  getStatus(tenant: string, requestTraceId: string): Promise<TraceResult> {
    const path = `${SAAS_READ_ENDPOINTS.status.path}?${new URLSearchParams({ requestTraceId })}`;
    return this.#call('GET', path, tenant, { answer: traceResultSchema });
  }

  /** `GET /getData`: what the network holds for a consumer now. */
  getData(tenant: string, externalConsumerId: string): Promise<NetworkData> {
    const path = `${SAAS_READ_ENDPOINTS.getData.path}?${new URLSearchParams({ externalConsumerId })}`;
    return this.#call('GET', path, tenant, { answer: networkDataSchema });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  #validateOutgoing(schema: z.ZodType, body: unknown, endpoint: string): string {
    const parsed = schema.safeParse(body);
    if (parsed.success) return JSON.stringify(parsed.data);
    // Paths and messages only: the rejected value may be a PAN.
    const details = parsed.error.issues.map((issue) => ({
      field: issue.path.join('.'),
      message: issue.message,
    }));
    throw new SaasError({
      kind: 'permanent',
      code: 'INVALID_OUTGOING_REQUEST',
      message: `our request does not match the contract (${details.map((d) => d.field).join(', ')})`,
      endpoint,
      requestId: '',
      details,
    });
  }

  async #call<T>(
    method: Method,
    path: string,
    tenant: string,
    request: { body?: string; idempotencyKey?: string; answer: z.ZodType<T> },
  ): Promise<T> {
    const endpoint = path.split('?')[0] ?? path;
    const requestId = randomUUID();
    const started = performance.now();
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.#apiKey}`,
      'x-tenant-id': tenant,
      'x-request-id': requestId,
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    if (request.idempotencyKey !== undefined) headers['idempotency-key'] = request.idempotencyKey;

    const record = (status: number | undefined, error?: SaasError) => {
      const call: SaasCallRecord = {
        endpoint,
        tenant,
        status,
        durationMs: performance.now() - started,
        outcome: error === undefined ? 'ok' : error.kind,
        ...(error === undefined ? {} : { code: error.code }),
      };
      this.#onCall?.(call);
      this.#logger?.debug({ ...call, requestId, idempotencyKey: request.idempotencyKey }, 'saas call');
    };

    let status: number | undefined;
    try {
      const response = await this.#pool.request({
        method,
        path: `${this.#basePath}${path}`,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      const text = await response.body.text();
      if (status < 200 || status >= 300) {
        throw errorFromAnswer(status, text, response.headers['retry-after'], endpoint, requestId);
      }
      const value = readAnswer(text, request.answer, endpoint, requestId, status);
      record(status);
      return value;
    } catch (caught) {
      const error = classify(caught, endpoint, requestId, this.#timeoutMs);
      record(status, error);
      throw error;
    }
  }
}

function errorFromAnswer(
  status: number,
  text: string,
  retryAfter: string | string[] | undefined,
  endpoint: string,
  requestId: string,
): SaasError {
  const parsed = saasErrorBodySchema.safeParse(inboundJson(text));
  const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return new SaasError({
    kind: kindOfStatus(status),
    code: parsed.success ? parsed.data.error.code : `HTTP_${status}`,
    message: parsed.success ? parsed.data.error.message : 'the SaaS answered without the contract error body',
    endpoint,
    requestId,
    status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(parsed.success && parsed.data.error.details !== undefined
      ? { details: parsed.data.error.details }
      : {}),
  });
}

function readAnswer<T>(
  text: string,
  schema: z.ZodType<T>,
  endpoint: string,
  requestId: string,
  status: number,
): T {
  const parsed = schema.safeParse(inboundJson(text));
  if (parsed.success) return parsed.data;
  // A 2xx we cannot read: the SaaS may be mid-deploy. Retrying with the same key is safe.
  throw new SaasError({
    kind: 'retryable',
    code: 'INVALID_RESPONSE',
    message: `the answer does not match the contract (${parsed.error.issues.map((i) => i.path.join('.') || '(body)').join(', ')})`,
    endpoint,
    requestId,
    status,
  });
}

/** The answer's JSON, cleaned; undefined when it is not JSON (the schema then refuses it). */
function inboundJson(text: string): unknown {
  const read = readInboundJson(text);
  return read.ok ? read.value : undefined;
}

function classify(caught: unknown, endpoint: string, requestId: string, timeoutMs: number): SaasError {
  if (caught instanceof SaasError) return caught;
  if (isTimeout(caught)) {
    return new SaasError({
      kind: 'retryable',
      code: 'TIMEOUT',
      message: `no answer within ${timeoutMs} ms`,
      endpoint,
      requestId,
    });
  }
  if (isConnectionError(caught)) {
    return new SaasError({
      kind: 'retryable',
      code: 'CONNECTION',
      message: caught.code,
      endpoint,
      requestId,
    });
  }
  // Unknown failures are treated as transient: retrying with the same key cannot do harm.
  const message = caught instanceof Error ? caught.message : String(caught);
  return new SaasError({ kind: 'retryable', code: 'UNKNOWN', message, endpoint, requestId });
}

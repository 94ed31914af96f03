import { randomBytes } from 'node:crypto';
import { syncConfiguredApiKeys } from '@ctp/core/auth';
import { createPanCipher, findPans, type PanCipher } from '@ctp/core/cards';
import { DEV_DEFAULTS, loadConfig } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { type RunningServer, startHttpServer } from '@ctp/core/runtime';
import { SaasClient } from '@ctp/core/saas';
import { createTestDatabase, keepTestLog, type TestDatabase } from '@ctp/db/testing';
import { type ApiDependencies, createApiApp } from '../src/app.ts';

/** The two development tenants and their keys, from the configuration defaults. */
export const DEV_KEYS = Object.fromEntries(loadConfig({}).API_KEYS.map(({ tenant, key }) => [tenant, key]));
/** The development pepper the tests' keys are hashed under. */
export const PEPPER = DEV_DEFAULTS.API_KEY_PEPPER;
export const ENBD = 'ENBDTABBY';
export const DEMO = 'DEMOBANK';

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body (`undefined` when the body is not JSON). */
  readonly body: unknown;
}

export interface CallOptions {
  /** A value to send as JSON (`application/json`). */
  readonly json?: unknown;
  /** A raw body, sent with `headers` as given. */
  readonly raw?: RequestInit['body'];
  readonly headers?: Record<string, string>;
  /** The tenant whose dev key authenticates the call; `null` sends no key. Default ENBDTABBY. */
  readonly as?: string | null;
}

export interface TestApi {
  readonly db: TestDatabase;
  readonly panCipher: PanCipher;
  readonly baseUrl: string;
  /** Every log line the api wrote. */
  readonly logLines: string[];
  /** Every answer body the api sent. */
  readonly answers: string[];
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Card numbers found in any answer or log line so far (should stay empty). */
  leakedPans(): string[];
  close(): Promise<void>;
}

/** A migrated database of its own, the dev keys synced, the api on a free port. */
export async function startTestApi(overrides: Partial<ApiDependencies> = {}): Promise<TestApi> {
  const db = await createTestDatabase();
  const logLines: string[] = [];
  const answers: string[] = [];
  const logger = createLogger({
    name: 'api',
    level: 'info',
    destination: { write: (l) => void logLines.push(l) },
  });
  await syncConfiguredApiKeys(db.orm.em, loadConfig({}).API_KEYS, PEPPER);
  const panCipher = createPanCipher({ current: randomBytes(32).toString('base64') });
  // Tests that talk to a SaaS pass their own client; the others get one that points nowhere.
  const saas =
    overrides.saas ?? new SaasClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'unused-in-these-tests' });
  const deps = {
    orm: db.orm,
    logger,
    panCipher,
    saas,
    webhookSecret: DEV_DEFAULTS.CTP_WEBHOOK_SECRET,
    apiKeyPepper: PEPPER,
    ...overrides,
  };
  let server: RunningServer | undefined;
  try {
    server = await startHttpServer(createApiApp(deps), {
      port: 0,
      hostname: '127.0.0.1',
      logger,
    });
  } catch (error) {
    await db.drop();
    throw error;
  }
  const running = server;
  const baseUrl = `http://127.0.0.1:${running.port}`;

  return {
    db,
    panCipher,
    baseUrl,
    logLines,
    answers,
    async call(method, path, { json, raw, headers = {}, as = ENBD } = {}) {
      const key = as === null ? undefined : DEV_KEYS[as];
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        ...(raw === undefined ? {} : { body: raw, duplex: 'half' }),
      });
      const text = await response.text();
      answers.push(text);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: response.status, headers: response.headers, text, body };
    },
    leakedPans() {
      return [...answers, ...logLines].flatMap(findPans);
    },
    async close() {
      await running.close();
      if (overrides.saas === undefined) await saas.close();
      await keepTestLog('api', logLines);
      await db.drop();
    },
  };
}

/** Every row of the platform record tables, to prove a refused request changed nothing. */
export async function dumpRecords(db: TestDatabase): Promise<string> {
  const tables = [
    'business_entity',
    'kit',
    'ctp_customer',
    'ctp_payment',
    'ctp_operation',
    'ctp_outbox',
    'ctp_webhook_inbox',
  ];
  const dumps = await Promise.all(
    tables.map((table) => db.orm.em.getConnection().execute(`select * from "${table}" order by 1`)),
  );
  return JSON.stringify(dumps);
}

export const VISA = '4111111111111111';
export const MASTERCARD = '5555555555554444';

export function entityBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    firstName: 'Aisha',
    lastName: 'Khan',
    email: 'aisha@example.com',
    phone: { countryCode: '971', number: '501234567' },
    address: { line1: '1 Sheikh Zayed Rd', city: 'Dubai', postalCode: '00000', countryCode: 'AE' },
    locale: 'en_AE',
    countryCode: 'AE',
    ...overrides,
  };
}

export function kitBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { pan: VISA, expiry: { month: '12', year: '2099' }, nameOnCard: 'AISHA KHAN', ...overrides };
}

/** The contract's error body with `code`, and the fields `details` names (if any). */
export function errorOf(answer: Answer): { code: string; message: string; fields: string[] } {
  const error = (
    answer.body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined
  )?.error;
  if (error === undefined || typeof error.code !== 'string' || typeof error.message !== 'string') {
    throw new Error(`not an error body: ${answer.status} ${answer.text}`);
  }
  const details = Array.isArray(error.details) ? (error.details as { field?: unknown }[]) : [];
  return { code: error.code, message: error.message, fields: details.map((d) => String(d.field)) };
}

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.ts';
import { DEV_DEFAULTS } from './schema.ts';

const PROD_SECRETS = {
  NODE_ENV: 'production',
  API_KEYS: 'ENBDTABBY:prod-key-0123456789abcdef',
  CTP_SAAS_API_KEY: 'prod-saas-key-0123456789',
  CTP_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  PAN_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
  DASHBOARD_PASSWORD: 'a-long-prod-password',
  API_KEY_PEPPER: 'a-long-production-pepper',
};

function problem(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has working defaults for local use', () => {
    const config = loadConfig({});
    expect(config.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/ctp');
    expect(config.API_PORT).toBe(3000);
    expect(config.API_KEYS).toEqual([
      { tenant: 'ENBDTABBY', key: 'dev-key-enbdtabby' },
      { tenant: 'DEMOBANK', key: 'dev-key-demobank' },
    ]);
  });

  it('leaves tracing off by default and checks its variables when set', () => {
    const off = loadConfig({});
    expect(off.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(off.TRACING_UI_URL).toBeUndefined();
    const on = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
      TRACING_UI_URL: 'http://localhost:16686/trace/{traceId}',
    });
    expect(on.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    expect(on.TRACING_UI_URL).toBe('http://localhost:16686/trace/{traceId}');
    expect(problem({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' }).variables).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]);
    expect(problem({ TRACING_UI_URL: 'http://localhost:16686/trace/' }).variables).toEqual([
      'TRACING_UI_URL',
    ]);
  });

  it('refuses a dashboard username longer than the audit log records', () => {
    expect(problem({ DASHBOARD_USERNAME: 'a'.repeat(129) }).variables).toEqual(['DASHBOARD_USERNAME']);
    expect(loadConfig({ DASHBOARD_USERNAME: 'a'.repeat(128) }).DASHBOARD_USERNAME).toHaveLength(128);
  });

  it('names each bad variable and what it must be, without echoing its value', () => {
    const error = problem({ API_PORT: 'eighty', PAN_ENCRYPTION_KEY: 'c2hvcnQ=', REDIS_URL: 'http://x' });
    expect(error.variables).toEqual(expect.arrayContaining(['API_PORT', 'PAN_ENCRYPTION_KEY', 'REDIS_URL']));
    expect(error.message).toMatch(/PAN_ENCRYPTION_KEY: must be the base64 encoding of exactly 32 bytes/);
    expect(error.message).not.toContain('c2hvcnQ=');
  });

  it('rejects malformed API_KEYS entries', () => {
    expect(problem({ API_KEYS: 'ENBDTABBY' }).message).toMatch(/API_KEYS: entry 1 must be TENANT:KEY/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ API_PORT: '' }).API_PORT).toBe(3000);
  });

  it('refuses to start in production with a default secret', () => {
    const error = problem({ ...PROD_SECRETS, PAN_ENCRYPTION_KEY: DEV_DEFAULTS.PAN_ENCRYPTION_KEY });
    expect(error.variables).toEqual(['PAN_ENCRYPTION_KEY']);
    expect(problem({ NODE_ENV: 'production' }).variables).toHaveLength(Object.keys(DEV_DEFAULTS).length);
    expect(loadConfig(PROD_SECRETS).NODE_ENV).toBe('production');
  });
});

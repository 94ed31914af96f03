import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO,
  dumpRecords,
  ENBD,
  entityBody,
  errorOf,
  kitBody,
  startTestApi,
  type TestApi,
} from './helpers.ts';

// Every route, called by another tenant on this tenant's ids, answers 404 as if nothing existed,
// and changes nothing.

let api: TestApi;
let operationId = '';

beforeAll(async () => {
  api = await startTestApi();
  await api.call('PUT', '/v1/entities/tn-e', { json: entityBody() });
  await api.call('PUT', '/v1/entities/tn-e/kits/tn-k', { json: kitBody() });
  const accepted = await api.call('POST', '/v1/ctp/entities/tn-e/registration', { json: { kitNo: 'tn-k' } });
  operationId = String((accepted.body as { operationId: string }).operationId);
});
afterAll(async () => {
  await api?.close();
});

describe('tenant isolation', () => {
  it.each([
    ['GET', '/v1/entities/tn-e', undefined],
    ['PATCH', '/v1/entities/tn-e', { firstName: 'Intruder' }],
    ['GET', '/v1/entities/tn-e/kits/tn-k', undefined],
    ['PUT', '/v1/entities/tn-e/kits/tn-k', kitBody()],
    ['POST', '/v1/ctp/entities/tn-e/registration', { kitNo: 'tn-k' }],
    ['POST', '/v1/ctp/entities/tn-e/kits', { kitNo: 'tn-k' }],
    ['DELETE', '/v1/ctp/entities/tn-e', undefined],
    ['DELETE', '/v1/ctp/entities/tn-e/kits/tn-k', undefined],
    ['POST', '/v1/ctp/entities/tn-e/sync', undefined],
    ['POST', '/v1/ctp/entities/tn-e/kits/tn-k/sync', undefined],
    ['GET', '/v1/ctp/entities/tn-e', undefined],
    ['GET', '/v1/ctp/entities/tn-e/network', undefined],
    ['GET', '/v1/ctp/operations/{op}', undefined],
  ] as const)("%s %s of another tenant's ids is 404 and writes nothing", async (method, template, json) => {
    const path = template.replace('{op}', operationId);
    const before = await dumpRecords(api.db);
    const answer = await api.call(method, path, { as: DEMO, ...(json === undefined ? {} : { json }) });
    expect(answer.status, answer.text).toBe(404);
    expect(errorOf(answer).code).toBe('NOT_FOUND');
    expect(await dumpRecords(api.db)).toBe(before);
    expect((await api.call('GET', '/v1/entities/tn-e', { as: ENBD })).status).toBe(200);
  });

  it("PUT of another tenant's entity id creates that tenant's own entity, leaving ours alone", async () => {
    const theirs = await api.call('PUT', '/v1/entities/tn-e', {
      as: DEMO,
      json: entityBody({ firstName: 'Other' }),
    });
    expect(theirs.status).toBe(201);
    const ours = await api.call('GET', '/v1/entities/tn-e', { as: ENBD });
    expect((ours.body as { firstName: string }).firstName).toBe('Aisha');
  });
});

describe('a production start', () => {
  it('refuses to run with a default secret, naming it (exit 78)', async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, NODE_ENV: 'production', API_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toMatch(/PAN_ENCRYPTION_KEY: must be set to a real secret when NODE_ENV=production/);
    expect(stderr).not.toContain('dev-key-enbdtabby');
  });
});

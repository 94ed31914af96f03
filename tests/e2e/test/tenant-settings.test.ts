import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../src/harness.ts';

// Tenant CTP settings against the worker and the simulator: with the tenant switched `OFF`
// after an enrolment, a new enrolment is refused (409 CTP_NOT_ENABLED) while an update and the
// removals still run to SUCCESS; the change applies without restarting anything.

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});
afterAll(async () => {
  await p.close();
});

async function run(method: string, path: string, body?: unknown) {
  const accepted = await p.call(method, path, body);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return p.settled(String(accepted.body.operationId));
}

describe('tenant CTP settings, end to end', () => {
  it('OFF refuses enrolments; updates and removals of an enrolled customer still complete', async () => {
    await p.customer('e-set', ['k-set-1', 'k-set-2', 'k-set-3']);
    expect(await run('POST', '/v1/ctp/entities/e-set/registration', { kitNo: 'k-set-1' })).toMatchObject({
      status: 'SUCCESS',
    });
    expect(await run('POST', '/v1/ctp/entities/e-set/kits', { kitNo: 'k-set-2' })).toMatchObject({
      status: 'SUCCESS',
    });

    expect((await p.call('PUT', '/v1/ctp/settings', { mode: 'OFF' })).status).toBe(200);
    const refused = await p.call('POST', '/v1/ctp/entities/e-set/kits', { kitNo: 'k-set-3' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'CTP_NOT_ENABLED' } });

    expect(await run('POST', '/v1/ctp/entities/e-set/sync')).toMatchObject({ status: 'SUCCESS' });
    expect(await run('DELETE', '/v1/ctp/entities/e-set/kits/k-set-2')).toMatchObject({ status: 'SUCCESS' });
    expect(await run('DELETE', '/v1/ctp/entities/e-set')).toMatchObject({ status: 'SUCCESS' });

    // Back to ALL: the same customer may enrol again at once.
    expect((await p.call('PUT', '/v1/ctp/settings', { mode: 'ALL' })).status).toBe(200);
    expect(await run('POST', '/v1/ctp/entities/e-set/registration', { kitNo: 'k-set-3' })).toMatchObject({
      status: 'SUCCESS',
    });
  });
});

import { DEV_DEFAULTS } from '@ctp/core/config';
import { createLogger } from '@ctp/core/logging';
import { SaasClient } from '@ctp/core/saas';
import { createOrm, type Orm } from '@ctp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../src/app.ts';
import { DEV_KEYS, ENBD, entityBody, kitBody, PEPPER, startTestApi, type TestApi } from './helpers.ts';

/**
 * With a lock timeout on the pool (issue 12, item 14), a request that cannot get the entity lock
 * in time fails fast; it answers 503 UNAVAILABLE with Retry-After (nothing was written, the client
 * may retry), not a 500.
 */

let api: TestApi;
let orm: Orm;
const saas = new SaasClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'unused-in-these-tests' });

beforeAll(async () => {
  api = await startTestApi();
  orm = await createOrm({ databaseUrl: api.db.databaseUrl, timeouts: { lockMs: 200 } });
});
afterAll(async () => {
  await orm?.close();
  await saas.close();
  await api?.close();
});

describe('a lock wait past the lock timeout', () => {
  it('answers 503 UNAVAILABLE with Retry-After and writes nothing', async () => {
    await api.call('PUT', '/v1/entities/dt-busy', { json: entityBody() });
    await api.call('PUT', '/v1/entities/dt-busy/kits/dt-busy-k', { json: kitBody() });
    const app = createApiApp({
      orm,
      logger: createLogger({ name: 'api', level: 'silent' }),
      panCipher: api.panCipher,
      apiKeyPepper: PEPPER,
      saas,
      webhookSecret: DEV_DEFAULTS.CTP_WEBHOOK_SECRET,
    });
    const holder = await api.db.orm.em.getConnection().getNativeClient();
    const client = await holder.connect();
    try {
      await client.query('begin');
      await client.query(`select 1 from business_entity where entity_id = 'dt-busy' for update`);
      const answer = await app.request('/v1/ctp/entities/dt-busy/registration', {
        method: 'POST',
        headers: { authorization: `Bearer ${DEV_KEYS[ENBD]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kitNo: 'dt-busy-k' }),
      });
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).not.toBeNull();
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
    } finally {
      await client.query('rollback');
      client.release();
    }
    const rows = await api.db.orm.em.execute(`select 1 from ctp_operation where entity_id = 'dt-busy'`);
    expect(rows).toHaveLength(0);
  });
});

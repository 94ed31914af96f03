import { requestFingerprint } from '@ctp/core/operations';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { entityBody, errorOf, kitBody, startTestApi, type TestApi } from './helpers.ts';

/**
 * A unique violation answers what it means, by the constraint it names (issue 12, item 15): the
 * in-flight index is `409 OPERATION_IN_PROGRESS`, the `Idempotency-Key` index a replay or
 * `422 IDEMPOTENCY_KEY_REUSED`, anything else a logged `409 CONFLICT`, never a false
 * OPERATION_IN_PROGRESS and never a 500. Each violation is real: another connection holds an
 * uncommitted row that the request's insert must wait for, then commits it.
 */

const T = 'ENBDTABBY';

/** The ORM's own `pg` pool, as far as these tests use it (the api does not depend on `pg`). */
interface PoolClient {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  release(): void;
}
interface Pool {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PoolClient>;
}
let api: TestApi;
let pool: Pool;
const others = new Set<PoolClient>();

beforeAll(async () => {
  api = await startTestApi();
  pool = await (
    api.db.orm.em.getConnection() as unknown as { getNativeClient(): Promise<Pool> }
  ).getNativeClient();
});
afterEach(async () => {
  for (const client of others) {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
  others.clear();
});
afterAll(async () => {
  await api?.close();
});

async function entityWithKit(entityId: string): Promise<void> {
  expect((await api.call('PUT', `/v1/entities/${entityId}`, { json: entityBody() })).status).toBeLessThan(
    300,
  );
  expect(
    (await api.call('PUT', `/v1/entities/${entityId}/kits/${entityId}-k`, { json: kitBody() })).status,
  ).toBeLessThan(300);
}

/** Another writer (without the entity lock) with an uncommitted row. */
async function uncommitted(text: string, params: unknown[]): Promise<PoolClient> {
  const client = await pool.connect();
  others.add(client);
  await client.query('begin');
  await client.query(text, params);
  return client;
}

async function someoneWaitsForALock(): Promise<void> {
  for (;;) {
    const { rows } = await pool.query(
      `select 1 from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`,
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function racedRegistration(entityId: string, other: PoolClient, headers: Record<string, string> = {}) {
  const answer = api.call('POST', `/v1/ctp/entities/${entityId}/registration`, {
    json: { kitNo: `${entityId}-k` },
    headers,
  });
  await someoneWaitsForALock();
  await other.query('commit');
  others.delete(other);
  other.release();
  return answer;
}

const OPERATION_ROW = `insert into ctp_operation (id, tenant, event, entity_id, kit_number, status, idempotency_key, request_hash)
  values (gen_random_uuid(), $1, 'CTP_REGISTER_ENTITY_AND_KIT', $2, $3, $4, $5, $6)`;

describe('unique violations are mapped by the constraint they name', () => {
  it('the in-flight index: 409 OPERATION_IN_PROGRESS', async () => {
    await entityWithKit('uv-flight');
    const other = await uncommitted(OPERATION_ROW, [T, 'uv-flight', 'uv-flight-k', 'QUEUED', null, null]);
    const answer = await racedRegistration('uv-flight', other);
    expect(answer.status).toBe(409);
    expect(errorOf(answer).code).toBe('OPERATION_IN_PROGRESS');
  });

  it('the Idempotency-Key index, another request: 422 IDEMPOTENCY_KEY_REUSED', async () => {
    await entityWithKit('uv-key');
    const other = await uncommitted(OPERATION_ROW, [
      T,
      'uv-key-elsewhere',
      null,
      'SUCCESS',
      'uv-k1',
      'other',
    ]);
    const answer = await racedRegistration('uv-key', other, { 'Idempotency-Key': 'uv-k1' });
    expect(answer.status).toBe(422);
    expect(errorOf(answer).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('the Idempotency-Key index, the same request: the first answer again', async () => {
    await entityWithKit('uv-replay');
    const hash = requestFingerprint({
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'uv-replay',
      kitNo: 'uv-replay-k',
    });
    const other = await uncommitted(OPERATION_ROW, [T, 'uv-replay', 'uv-replay-k', 'SUCCESS', 'uv-k2', hash]);
    const answer = await racedRegistration('uv-replay', other, { 'Idempotency-Key': 'uv-k2' });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ entityId: 'uv-replay', status: 'SUCCESS' });
  });

  it('any other constraint: a logged 409 CONFLICT, not OPERATION_IN_PROGRESS', async () => {
    await entityWithKit('uv-other');
    // A unique index of this test's own on a table the request step writes, and a committed row
    // the step's status-history insert collides with: a violation of a constraint no code knows.
    await pool.query(
      `create unique index uq_test_one_cause on ctp_status_history (tenant, cause)
        where entity_id in ('uv-other', 'uv-other-before')`,
    );
    await pool.query(
      `insert into ctp_status_history (tenant, entity_id, record, to_status, cause)
       values ($1, 'uv-other-before', 'entity', 'ACTIVE', 'CTP_REGISTER_ENTITY_AND_KIT requested')`,
      [T],
    );
    const answer = await api.call('POST', '/v1/ctp/entities/uv-other/registration', {
      json: { kitNo: 'uv-other-k' },
    });
    expect(answer.status).toBe(409);
    expect(errorOf(answer).code).toBe('CONFLICT');
    expect(api.logLines.some((line) => line.includes('uq_test_one_cause'))).toBe(true);
    // Nothing of the refused request was written.
    const { rows } = await pool.query('select 1 from ctp_operation where tenant = $1 and entity_id = $2', [
      T,
      'uv-other',
    ]);
    expect(rows).toHaveLength(0);
  });

  it('a unique violation on any other route: a logged 409 CONFLICT, not a 500', async () => {
    await pool.query(
      `create unique index uq_test_one_email on business_entity (tenant, email) where email = 'once@example.com'`,
    );
    const body = entityBody({ email: 'once@example.com' });
    expect((await api.call('PUT', '/v1/entities/uv-mail-1', { json: body })).status).toBe(201);
    const answer = await api.call('PUT', '/v1/entities/uv-mail-2', { json: body });
    expect(answer.status).toBe(409);
    expect(errorOf(answer).code).toBe('CONFLICT');
    expect(api.logLines.some((line) => line.includes('uq_test_one_email'))).toBe(true);
    expect((await api.call('GET', '/v1/entities/uv-mail-2')).status).toBe(404);
  });
});

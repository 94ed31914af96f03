import { CtpCustomer, CtpOperation, CtpOutbox, CtpRequestIdTracking } from '@ctp/core/entities';
import {
  aggregateFrom,
  failQueuedOperation,
  lockEntity,
  readAggregate,
  recordAccepted,
  resolveTraceOutcome,
  SqlSession,
  StepWrites,
  submitOperation,
} from '@ctp/core/operations';
import { SaasClient } from '@ctp/core/saas';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Pool, PoolClient } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY } from '../../saas-sim/src/testing.ts';
import { cipher, queuedRegistration, seedEntity } from './fixtures.ts';

/**
 * Guards that guard (issue 12, item 13): a step whose guarded update loses a race to a writer it
 * did not expect commits nothing of its own (no status revert, no history, no notification), and
 * the 202 of the SaaS is recorded under the entity lock, like every other lifecycle step.
 */

const T = 'ENBDTABBY';
let db: TestDatabase;
let pool: Pool;
let sim: RunningSimulator;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = await (
    db.orm.em.getConnection() as unknown as { getNativeClient(): Promise<Pool> }
  ).getNativeClient();
  sim = await startSimulator();
});
/** The other writers' connections: a failed assertion must not leave one holding its locks. */
const others = new Set<PoolClient>();
afterEach(async () => {
  for (const client of others) {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
  others.clear();
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const queued = (entityId: string) => queuedRegistration(db.orm, T, entityId);

/** Resolves once another backend of this database waits for a lock (the step under test). */
async function someoneWaitsForALock(): Promise<'blocked'> {
  for (;;) {
    const { rows } = await pool.query(
      `select 1 from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`,
    );
    if (rows.length > 0) return 'blocked';
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A writer that does not take the entity lock, holding its row locks until `commit`. */
async function writerWithoutEntityLock(statements: readonly [string, unknown[]][]): Promise<PoolClient> {
  const client = await pool.connect();
  await client.query('begin');
  others.add(client);
  for (const [text, params] of statements) await client.query(text, params);
  return client;
}

async function commit(client: PoolClient): Promise<void> {
  await client.query('commit');
  others.delete(client);
  client.release();
}

async function customerStatus(entityId: string) {
  return (await db.orm.em.fork().findOne(CtpCustomer, { tenant: T, entityId }))?.ctpEntityStatus;
}

async function historyCauses(operationId: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<{ cause: string }[]>(
      'select cause from ctp_status_history where operation_id = ?::uuid order by pkey',
      [operationId],
    );
  return rows.map((row) => row.cause);
}

async function notifications(operationId: string): Promise<number> {
  return db.orm.em.fork().count(CtpOutbox, { operationId, kind: 'notification' });
}

describe('a step that loses the race of its guarded update commits nothing', () => {
  it('failing a QUEUED operation that another writer moved meanwhile: no revert, no history, no notification', async () => {
    const id = await queued('g-fail');
    const causesBefore = await historyCauses(id);
    const other = await writerWithoutEntityLock([
      [`update ctp_operation set status = 'IN_PROGRESS', request_trace_id = 't-g-fail' where id = $1`, [id]],
    ]);
    const failing = failQueuedOperation(db.orm.em, id, {
      code: 'REFUSED',
      message: 'Request Refused',
      details: 'test',
    });
    // The step read the operation QUEUED and now waits on the other writer's row lock.
    await someoneWaitsForALock();
    await commit(other);

    const failed = await failing;
    const operation = await db.orm.em.fork().findOneOrFail(CtpOperation, { id });
    expect(operation).toMatchObject({ status: 'IN_PROGRESS', errorCode: null });
    expect(await customerStatus('g-fail')).toBe('REGISTRATION_IN_PROGRESS');
    expect(await historyCauses(id)).toEqual(causesBefore);
    expect(await notifications(id)).toBe(0);
    // Read again under the lock, the operation is no longer QUEUED: nothing to fail.
    expect(failed).toBe(false);
  });

  it('resolving a trace another writer resolved meanwhile: no statuses, no history, no notification', async () => {
    const id = await queued('g-resolve');
    await recordAccepted(db.orm.em, { operationId: id, requestTraceId: 't-g-res', firstPollAfterMs: 0 });
    const causesBefore = await historyCauses(id);
    const other = await writerWithoutEntityLock([
      [`update "ctp_requestIdTracking" set status_ctp = 'FAILED' where "request_trace_ID" = 't-g-res'`, []],
      [`update ctp_operation set status = 'FAILED' where id = $1`, [id]],
    ]);
    const resolving = resolveTraceOutcome(db.orm.em, T, { requestTraceId: 't-g-res', status: 'SUCCESS' });
    await someoneWaitsForALock();
    await commit(other);

    const resolved = await resolving;
    expect(await customerStatus('g-resolve')).toBe('REGISTRATION_IN_PROGRESS');
    expect(await historyCauses(id)).toEqual(causesBefore);
    expect(await notifications(id)).toBe(0);
    const trace = await db.orm.em.fork().findOneOrFail(CtpRequestIdTracking, { requestTraceId: 't-g-res' });
    expect(trace.resolvedAt ?? null).toBeNull();
    // Read again under the lock, the trace is terminal: nothing to resolve.
    expect(resolved).toBe('already-terminal');
  });
});

describe('guarded writes', () => {
  it('create CTP rows too, the kit row naming the customer row the same statement created', async () => {
    const id = await queued('g-rows-op');
    await seedEntity(db.orm, T, 'g-rows', ['g-rows-k']);
    await SqlSession.transaction(db.orm.em, async (session) => {
      const [, read] = await session.run([lockEntity(T, 'g-rows'), readAggregate(T, 'g-rows')]);
      const records = aggregateFrom(read);
      if (records === null) throw new Error('no aggregate');
      const writes = new StepWrites();
      writes.applySnapshot(records, { entity: 'ACTIVE', kits: { 'g-rows-k': 'ACTIVE' } }, { cause: 'test' });
      writes.finishOperation({ id, status: 'QUEUED' }, 'FAILED', null);
      await session.run(writes.statements(), { commit: true });
    });
    expect(await customerStatus('g-rows')).toBe('ACTIVE');
    const [payment] = await db.orm.em.fork().execute<{ status: string; same: boolean }[]>(
      `select p.ctp_kit_status as status, p.ctcustomer_pkey = c.pkey as same
           from ctp_payment p join kit k on k.pkey = p.kit_pkey
           join ctp_customer c on c.tenant = k.tenant and c.entity_id = 'g-rows'
          where k.kit_no = 'g-rows-k'`,
    );
    expect(payment).toEqual({ status: 'ACTIVE', same: true });
    expect((await db.orm.em.fork().findOneOrFail(CtpOperation, { id })).status).toBe('FAILED');
  });
});

describe('recording the SaaS 202', () => {
  it('takes the entity lock first (the one lock order) and writes nothing if the operation ended meanwhile', async () => {
    const id = await queued('g-lock');
    const other = await writerWithoutEntityLock([
      [`select 1 from business_entity where tenant = $1 and entity_id = $2 for update`, [T, 'g-lock']],
    ]);
    const recording = recordAccepted(db.orm.em, {
      operationId: id,
      requestTraceId: 't-g-lock',
      firstPollAfterMs: 0,
    });
    // Without the entity lock the recording would finish while the other step holds it.
    expect(await Promise.race([recording.then(() => 'done' as const), someoneWaitsForALock()])).toBe(
      'blocked',
    );
    // The lock holder ends the operation (as failing it does) and commits.
    await other.query(`update ctp_operation set status = 'FAILED' where id = $1`, [id]);
    await commit(other);

    expect(await recording).toBe('not-queued');
    expect(await db.orm.em.fork().count(CtpRequestIdTracking, { requestTraceId: 't-g-lock' })).toBe(0);
    expect(await historyCauses(id)).not.toContain('CTP_REGISTER_ENTITY_AND_KIT accepted by the SaaS');
  });

  it('tells a repeated recording of the same 202 from a 202 for an operation that ended', async () => {
    const id = await queued('g-twice');
    const input = { operationId: id, requestTraceId: 't-g-twice', firstPollAfterMs: 0 };
    expect(await recordAccepted(db.orm.em, input)).toBe('recorded');
    expect(await recordAccepted(db.orm.em, input)).toBe('already-recorded');
    expect(await recordAccepted(db.orm.em, { ...input, requestTraceId: 't-other' })).toBe('not-queued');
    expect(await db.orm.em.fork().count(CtpRequestIdTracking, { operation: id })).toBe(1);
  });

  it('the submit step reports a 202 for an operation that ended before it was recorded, and records nothing', async () => {
    const id = await queued('g-submit');
    const saas = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY });
    const other = await writerWithoutEntityLock([
      [`select 1 from business_entity where tenant = $1 and entity_id = $2 for update`, [T, 'g-submit']],
    ]);
    const submitting = submitOperation(
      {
        em: db.orm.em,
        saas,
        decryptPan: (kit) =>
          cipher.decrypt(
            { ciphertext: kit.panCiphertext, keyId: kit.panKeyId },
            { tenant: kit.tenant, kitNo: kit.kitNo },
          ),
        firstPollAfterMs: 0,
      },
      id,
    );
    // The SaaS accepted; the recording waits for the entity lock, whose holder ends the operation.
    const first = await Promise.race([submitting.then(() => 'done' as const), someoneWaitsForALock()]);
    await other.query(`update ctp_operation set status = 'FAILED' where id = $1`, [id]);
    await commit(other);
    expect(first).toBe('blocked');
    expect(await submitting).toBe('accepted-after-end');
    expect(await db.orm.em.fork().count(CtpRequestIdTracking, { operation: id })).toBe(0);
  });

  it('the submit step reports a failure it could not record (the operation moved first) as not-queued', async () => {
    const id = await queued('g-unbuildable');
    // No frozen request and an entity that no longer exists: the request cannot be built.
    await db.orm.em
      .fork()
      .execute(`update ctp_operation set request_body = null, entity_id = 'g-gone' where id = ?::uuid`, [id]);
    const other = await writerWithoutEntityLock([
      [`update ctp_operation set status = 'IN_PROGRESS', request_trace_id = 't-g-unb' where id = $1`, [id]],
    ]);
    const saas = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY });
    const submitting = submitOperation(
      { em: db.orm.em, saas, decryptPan: () => '4111111111111111', firstPollAfterMs: 0 },
      id,
    );
    await someoneWaitsForALock();
    await commit(other);
    expect(await submitting).toBe('not-queued');
    expect(await db.orm.em.fork().findOneOrFail(CtpOperation, { id })).toMatchObject({
      status: 'IN_PROGRESS',
      errorCode: null,
    });
    expect(await notifications(id)).toBe(0);
  });
});

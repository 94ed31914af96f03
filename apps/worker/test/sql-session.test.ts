import { BusinessEntity, CtpOperation, Kit } from '@ctp/core/entities';
import {
  aggregateFrom,
  BEGIN,
  COMMIT,
  defineStatement,
  lockEntity,
  readAggregate,
  recordAccepted,
  requestOperation,
  resolveTraceOutcome,
  SqlSession,
  sendPipelined,
} from '@ctp/core/operations';
import { sqlPool } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from './fixtures.ts';

const noop = defineStatement<Record<string, never>>(
  'test_noop',
  'update ctp_outbox set attempts = attempts where false',
);
const insertSync = defineStatement<{ tenant: string; entity_id: string }>(
  'test_insert_sync',
  `insert into ctp_pending_sync (tenant, entity_id, event, kit_number)
   values ($tenant::text, $entity_id::text, 'CTP_UPDATE_ENTITY', '')`,
);

let db: TestDatabase;
let pool: Pool;
const T = 'ENBDTABBY';

beforeAll(async () => {
  db = await createTestDatabase();
  pool = await sqlPool(db.orm);
});
afterAll(async () => {
  await db.drop();
});

describe('SqlSession (the hot steps: lock and read in one round trip, write and commit in the next)', () => {
  it('a step that waited for the entity lock reads what the previous holder committed', async () => {
    await seedEntity(db.orm, T, 'ss-lock', ['ss-lock-k']);
    const { operation } = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'ss-lock',
      kitNo: 'ss-lock-k',
    });
    await recordAccepted(db.orm.em, {
      operationId: operation.id,
      requestTraceId: 't-ss-lock',
      firstPollAfterMs: 0,
    });

    // Another transaction holds the entity lock and changes the statuses, then commits late.
    const holder = await pool.connect();
    await holder.query('begin');
    await holder.query(`select 1 from business_entity where tenant = $1 and entity_id = $2 for update`, [
      T,
      'ss-lock',
    ]);
    await holder.query(
      `update ctp_customer set ctp_entity_status = 'ACTIVE' where tenant = $1 and entity_id = $2`,
      [T, 'ss-lock'],
    );
    let read = false;
    const waiting = SqlSession.transaction(db.orm.em, async (session) => {
      const [, rows] = await session.run([lockEntity(T, 'ss-lock'), readAggregate(T, 'ss-lock')]);
      read = true;
      return aggregateFrom(rows);
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(read).toBe(false);
    await holder.query('commit');
    holder.release();
    const records = await waiting;
    // Read by the statement after the lock: the holder's committed status, not the one before.
    expect(records?.customer?.ctpEntityStatus).toBe('ACTIVE');
  });

  it('converts database errors like the ORM, rolls back and gives the connection back', async () => {
    await seedEntity(db.orm, T, 'ss-err', ['ss-err-k']);
    const idle = pool.idleCount + pool.totalCount;
    const failing = SqlSession.transaction(db.orm.em, async (session) => {
      await session.run([noop({}), insertSync({ tenant: T, entity_id: 'ss-err' })]);
      await session.run([insertSync({ tenant: T, entity_id: 'ss-err' })], { commit: true });
    });
    await expect(failing).rejects.toMatchObject({ name: 'UniqueConstraintViolationException' });
    // Nothing of the failed transaction stayed.
    const rows = await db.orm.em.execute(`select 1 from ctp_pending_sync where entity_id = 'ss-err'`);
    expect(rows).toHaveLength(0);
    expect(pool.idleCount + pool.totalCount).toBeLessThanOrEqual(idle + 2);
    // The connection it used works (it was rolled back, not left in a failed transaction).
    for (let i = 0; i < pool.totalCount + 1; i++) {
      expect(await resolveTraceOutcome(db.orm.em, T, { requestTraceId: 'none', status: 'SUCCESS' })).toBe(
        'trace-not-found',
      );
    }
  });

  it('carries any text through the steps unchanged: quotes, backslashes, semicolons, placeholders', async () => {
    const hostile = `O'Brien \\ "x"; drop table kit; -- ? ?? $1 :name \u00e9\u{1F600}`;
    await seedEntity(db.orm, T, 'ss-text', ['ss-text-k']);
    await db.orm.em
      .fork()
      .nativeUpdate(BusinessEntity, { tenant: T, entityId: 'ss-text' }, { lastName: hostile });
    const { operation } = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'ss-text',
      kitNo: 'ss-text-k',
      idempotencyKey: hostile,
    });
    const stored = await db.orm.em.fork().findOneOrFail(CtpOperation, { id: operation.id });
    expect(stored.idempotencyKey).toBe(hostile);
    expect(stored.requestBody?.body.consumer).toMatchObject({ lastName: hostile });
    // The same key again is a replay, found through the same statement.
    const again = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'ss-text',
      kitNo: 'ss-text-k',
      idempotencyKey: hostile,
    });
    expect(again).toMatchObject({ replayed: true, operation: { id: operation.id } });
    expect(await db.orm.em.fork().count(Kit, {})).toBeGreaterThan(0);
  });
});

describe('a pipelined batch leaves in one write', () => {
  it('begin, statements, commit and the wake-up: one write to the socket, not one per statement', async () => {
    const client = await pool.connect();
    const stream = client.connection.stream as typeof client.connection.stream & {
      _write: (...args: unknown[]) => unknown;
      _writev: (...args: unknown[]) => unknown;
    };
    const { _write: write, _writev: writev } = stream;
    let writes = 0;
    stream._write = (...args) => {
      writes += 1;
      return write.apply(stream, args);
    };
    stream._writev = (...args) => {
      writes += 1;
      return writev.apply(stream, args);
    };
    try {
      await sendPipelined(client, [BEGIN, noop({}), noop({}), noop({}), COMMIT], { wake: true });
      expect(writes).toBe(1);
    } finally {
      stream._write = write;
      stream._writev = writev;
      client.release();
    }
  });
});

describe('SqlSession sends fixed texts with bound values only', () => {
  const readKit = defineStatement<{ kit_no: string }>(
    'test_read_kit',
    'select pkey from kit where kit_no = $kit_no::text',
  );

  it('refuses a text that is not the defined one (a value spliced in)', async () => {
    const inlined = { ...readKit({ kit_no: 'ss-inline-k' }) };
    const forged = {
      ...inlined,
      text: `select pkey from kit where kit_no = 'ss-inline-k' or $1::text is null`,
    };
    await expect(SqlSession.transaction(db.orm.em, (session) => session.run([forged]))).rejects.toThrow(
      /refused/,
    );
    await expect(SqlSession.runAlone(db.orm.em, forged)).rejects.toThrow(/refused/);
    // The defined one, with the same value bound, runs.
    expect(await SqlSession.runAlone(db.orm.em, inlined)).toEqual([]);
  });

  it('gives one name one text: a text built per call cannot be defined twice', () => {
    const build = (kitNo: string) =>
      defineStatement<Record<string, never>>('test_built', `select pkey from kit where kit_no = '${kitNo}'`);
    build('a');
    expect(() => build('b')).toThrow(/another text/);
  });

  it('refuses to run inside an open ORM transaction', async () => {
    await expect(
      db.orm.em
        .fork()
        .transactional((tx) =>
          SqlSession.transaction(tx, (session) => session.run([readKit({ kit_no: 'x' })])),
        ),
    ).rejects.toThrow(/inside an open ORM transaction/);
    await expect(
      db.orm.em.fork().transactional((tx) => SqlSession.runAlone(tx, readKit({ kit_no: 'x' }))),
    ).rejects.toThrow(/inside an open ORM transaction/);
  });

  it("runs on @ctp/db's pool, whose connections are pipelined", () => {
    expect((pool.options as { pipeline?: boolean }).pipeline).toBe(true);
  });

  it('binds values as parameters: the server sees $n, never the value', async () => {
    const probe = defineStatement<{ marker: string }, { query: string }>(
      'test_own_query',
      `select query from pg_stat_activity where pid = pg_backend_pid() and $marker::text is not null`,
    );
    const [row] = await SqlSession.runAlone(db.orm.em, probe({ marker: 'ss-marker-7f3a' }));
    expect(row?.query).toContain('$1');
    expect(row?.query).not.toContain('ss-marker-7f3a');
  });
});

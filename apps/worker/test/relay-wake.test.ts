import { defineStatement, OUTBOX_CHANNEL, SqlSession, sharedTransaction } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// The relay is woken by a NOTIFY sent right after the commit of a transaction that may have
// written outbox rows (`WAKE_RELAY`), not by one inside it. Pipelined behind the commit, it is sent
// even when the commit turned out a rollback: a wake-up that finds nothing, which is harmless.

const insertSync = defineStatement<{ entity_id: string }>(
  'test_wake_insert_sync',
  `insert into ctp_pending_sync (tenant, entity_id, event, kit_number)
   values ('ENBDTABBY', $entity_id::text, 'CTP_UPDATE_ENTITY', '')`,
);
const failing = defineStatement<Record<string, never>>('test_wake_failing', 'select 1 / 0 as never');

let db: TestDatabase;
let listener: pg.Client;
let reader: pg.Client;
/** Each wake-up heard, with whether the row written before it was visible by then. */
let heard: { visible: boolean }[] = [];
let expected = '';

beforeAll(async () => {
  db = await createTestDatabase();
  reader = new pg.Client({ connectionString: db.databaseUrl });
  await reader.connect();
  listener = new pg.Client({ connectionString: db.databaseUrl });
  await listener.connect();
  listener.on('notification', () => {
    const entry = { visible: false };
    heard.push(entry);
    void reader
      .query('select count(*)::int as n from ctp_pending_sync where entity_id = $1', [expected])
      .then((result) => {
        entry.visible = result.rows[0]?.n === 1;
      });
  });
  await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
});
afterAll(async () => {
  await listener.end();
  await reader.end();
  await db.drop();
});
beforeEach(() => {
  heard = [];
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('waking the relay', () => {
  it('follows the commit of a transaction whose statements may write outbox rows, once', async () => {
    expected = 'wake-tx';
    await SqlSession.transaction(db.orm.em, (session) =>
      session.run([insertSync({ entity_id: 'wake-tx' }, { wakesRelay: true })], { commit: true }),
    );
    await settle();
    expect(heard).toEqual([{ visible: true }]);
  });

  it('follows a statement run alone, and a shared transaction, once per commit', async () => {
    expected = 'wake-alone';
    await SqlSession.runAlone(db.orm.em, insertSync({ entity_id: 'wake-alone' }, { wakesRelay: true }));
    await settle();
    expect(heard).toEqual([{ visible: true }]);

    heard = [];
    expected = 'wake-shared';
    await Promise.all([
      sharedTransaction(db.orm.em, (session) =>
        session.run([insertSync({ entity_id: 'wake-shared' }, { wakesRelay: true })], { commit: true }),
      ),
      sharedTransaction(db.orm.em, (session) =>
        session.run([insertSync({ entity_id: 'wake-shared-quiet' })], { commit: true }),
      ),
    ]);
    await settle();
    expect(heard.length).toBeGreaterThanOrEqual(1);
    expect(heard.every((entry) => entry.visible)).toBe(true);
  });

  it('is not sent for a transaction without such statements', async () => {
    await SqlSession.transaction(db.orm.em, (session) =>
      session.run([insertSync({ entity_id: 'wake-none' })], { commit: true }),
    );
    await SqlSession.runAlone(db.orm.em, insertSync({ entity_id: 'wake-none-alone' }));
    await settle();
    expect(heard).toEqual([]);
  });

  it('never turns a failed transaction into a committed one (its wake-up, pipelined behind the commit, finds nothing to do)', async () => {
    await expect(
      SqlSession.transaction(db.orm.em, (session) =>
        session.run([insertSync({ entity_id: 'wake-rolled-back' }, { wakesRelay: true }), failing({})], {
          commit: true,
        }),
      ),
    ).rejects.toThrow();
    const rows = await reader.query('select count(*)::int as n from ctp_pending_sync where entity_id = $1', [
      'wake-rolled-back',
    ]);
    expect(rows.rows[0]?.n).toBe(0);
  });
});

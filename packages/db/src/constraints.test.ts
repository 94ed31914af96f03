import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexDefinition } from './catalog.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

const CHECK_VIOLATION = '23514';
const UNIQUE_VIOLATION = '23505';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

function insertOperation(entityId: string, status: string, event = 'CTP_UPDATE_ENTITY'): Promise<unknown> {
  return db.orm.em.execute(
    'insert into ctp_operation (id, tenant, event, entity_id, status) values (?, ?, ?, ?, ?)',
    [randomUUID(), 'TENANT', event, entityId, status],
  );
}

async function insertCustomer(entityId: string, status: string): Promise<unknown> {
  const [businessEntity] = await db.orm.em.execute<{ pkey: string }[]>(
    `insert into business_entity (tenant, entity_id, first_name, last_name, email, phone_country_code,
       phone_number, address, locale, country_code)
     values ('TENANT', ?, 'Ada', 'Lovelace', 'ada@example.com', '971', '500000000',
       '{"line1":"1 Main St","city":"Dubai","postalCode":"00000","countryCode":"AE"}', 'en-AE', 'AE')
     returning pkey`,
    [entityId],
  );
  return db.orm.em.execute(
    'insert into ctp_customer (tenant, entity_id, ctp_entity_status, business_entity_fkey) values (?, ?, ?, ?)',
    ['TENANT', entityId, status, businessEntity?.pkey],
  );
}

describe('status and event CHECK constraints', () => {
  it('accept a status of the lifecycle', async () => {
    await expect(insertCustomer('entity-known-status', 'UNREGISTERED')).resolves.toBeDefined();
  });

  it('reject an unknown entity status', async () => {
    await expect(insertCustomer('entity-unknown-status', 'PENDING')).rejects.toMatchObject({
      code: CHECK_VIOLATION,
    });
  });

  it('reject an unknown operation status', async () => {
    await expect(insertOperation('entity-bad-op-status', 'DONE')).rejects.toMatchObject({
      code: CHECK_VIOLATION,
    });
  });

  it('reject an unknown event', async () => {
    await expect(insertOperation('entity-bad-event', 'QUEUED', 'CTP_FROBNICATE')).rejects.toMatchObject({
      code: CHECK_VIOLATION,
    });
  });
});

describe('one in-flight operation per entity (uq_ctp_operation_in_flight)', () => {
  it('is a partial unique index on (tenant, entity_id) over the in-flight statuses', async () => {
    expect(await indexDefinition(db.orm, 'uq_ctp_operation_in_flight')).toMatchObject({
      table: 'ctp_operation',
      columns: ['tenant', 'entity_id'],
      unique: true,
      predicate: expect.stringMatching(/QUEUED.*IN_PROGRESS/),
    });
  });

  it('refuses a second queued operation while the first is in flight', async () => {
    await insertOperation('entity-busy', 'QUEUED');
    await expect(insertOperation('entity-busy', 'QUEUED')).rejects.toMatchObject({ code: UNIQUE_VIOLATION });
  });

  it('allows the next operation once the first has finished', async () => {
    await insertOperation('entity-done', 'QUEUED');
    await db.orm.em.execute(`update ctp_operation set status = 'SUCCESS' where entity_id = ?`, [
      'entity-done',
    ]);
    await expect(insertOperation('entity-done', 'QUEUED')).resolves.toBeDefined();
  });
});

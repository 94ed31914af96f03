import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableNames } from './catalog.ts';
import { dropDatabase, ensureDatabase, withDatabaseName } from './database-admin.ts';
import { readDatabaseUrl } from './database-url.ts';
import { migrateDown, migrateUp } from './migrations.ts';
import { createOrm, type Orm } from './orm.ts';

const MIGRATOR_TABLE = 'mikro_orm_migrations';

// An empty database (no createTestDatabase: that one arrives already migrated).
const databaseUrl = withDatabaseName(readDatabaseUrl(), `ctp_test_${randomBytes(6).toString('hex')}`);
let orm: Orm;

beforeAll(async () => {
  await ensureDatabase(databaseUrl);
  orm = await createOrm({ databaseUrl });
});

afterAll(async () => {
  await orm.close(true);
  await dropDatabase(databaseUrl);
});

// One database for the file: each step starts from the state the previous one left (tests in a
// file run in order).
describe('migrations', () => {
  let applied: string[];

  it('apply on an empty database', async () => {
    expect(await tableNames(orm)).toEqual([]);
    applied = await migrateUp(orm);
    expect(applied.length).toBeGreaterThan(0);
    expect(await tableNames(orm)).toEqual(expect.arrayContaining(['ctp_customer', 'ctp_operation', 'kit']));
  });

  it('leave no difference between the entities and the database', async () => {
    expect(await orm.schema.getUpdateSchemaSQL()).toBe('');
  });

  it('apply nothing the second time', async () => {
    expect(await migrateUp(orm)).toEqual([]);
  });

  it('revert every migration, leaving only the migrator table', async () => {
    expect(await migrateDown(orm, { all: true })).toEqual([...applied].reverse());
    expect(await tableNames(orm)).toEqual([MIGRATOR_TABLE]);
  });

  it('apply again after a full revert', async () => {
    expect(await migrateUp(orm)).toEqual(applied);
    expect(await orm.schema.getUpdateSchemaSQL()).toBe('');
  });
});

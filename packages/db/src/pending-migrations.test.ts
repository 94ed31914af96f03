import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropDatabase, ensureDatabase, withDatabaseName } from './database-admin.ts';
import { readDatabaseUrl } from './database-url.ts';
import { migrateDown, migrateUp, pendingMigrations } from './migrations.ts';
import { createOrm, type Orm } from './orm.ts';
import { databaseReadinessChecks } from './readiness.ts';

// An empty database: readiness must see every migration pending, and write nothing to say so.
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

const migrationsCheck = () => {
  const check = databaseReadinessChecks(orm).find((c) => c.name === 'migrations');
  if (check === undefined) throw new Error('no migrations check');
  return check.check();
};

describe('pending migrations (readiness)', () => {
  it('are every migration on disk for an empty database, and asking creates nothing', async () => {
    const pending = await pendingMigrations(orm);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending[0]).toMatch(/^Migration\d+_initial$/);
    const [tables] = await orm.em
      .getConnection()
      .execute<{ n: string }[]>(
        `select count(*) as n from information_schema.tables where table_schema = 'public'`,
      );
    expect(Number(tables?.n)).toBe(0);
    await expect(migrationsCheck()).rejects.toThrow(/pending migrations: Migration/);
  });

  it('are none once migrated, and the last one again after it is reverted', async () => {
    const applied = await migrateUp(orm);
    expect(await pendingMigrations(orm)).toEqual([]);
    await expect(migrationsCheck()).resolves.toBeUndefined();
    await migrateDown(orm);
    expect(await pendingMigrations(orm)).toEqual([applied.at(-1)]);
  });
});

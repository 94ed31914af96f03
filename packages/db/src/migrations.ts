import { readdir } from 'node:fs/promises';
import { migrationsPath } from './config.ts';
import type { Orm } from './orm.ts';

/**
 * Applies every pending migration, all in one transaction (MikroORM's `allOrNothing` default).
 * Returns the names it applied.
 */
export async function migrateUp(orm: Orm): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((migration) => migration.name);
}

/** Reverts the last migration, or every one with `all`. Returns the names it reverted. */
export async function migrateDown(orm: Orm, { all = false }: { all?: boolean } = {}): Promise<string[]> {
  const reverted = await orm.migrator.down(all ? { to: 0 } : undefined);
  return reverted.map((migration) => migration.name);
}

/**
 * Writes a migration for the difference between the entities and the database, or nothing
 * when they agree. Returns the new file's name.
 */
export async function createMigration(orm: Orm, name?: string): Promise<string | undefined> {
  const result = await orm.migrator.create(undefined, false, false, name);
  return result.diff.up.length === 0 ? undefined : result.fileName;
}

/**
 * Migrations on disk that the database has not applied, by name (for readiness). Read-only on
 * purpose: the migrator's own `getPending` creates its bookkeeping table when it is missing, and
 * a probe must not write. A database with migrations this code does not know (a newer release
 * migrated it) has none pending: rolling deploys run old code against the new schema for a while.
 */
export async function pendingMigrations(orm: Orm): Promise<string[]> {
  const onDisk = await migrationNamesOnDisk(orm);
  const table = orm.config.get('migrations').tableName ?? 'mikro_orm_migrations';
  const connection = orm.em.getConnection();
  const [exists] = await connection.execute<{ present: boolean }[]>(
    'select to_regclass(?) is not null as present',
    [table],
  );
  if (exists?.present !== true) return onDisk;
  const rows = await connection.execute<{ name: string }[]>(`select name from "${table}"`);
  const applied = new Set(rows.map((row) => row.name.replace(/\.[cm]?[jt]s$/, '')));
  return onDisk.filter((name) => !applied.has(name));
}

const MIGRATION_FILE = /^(Migration\d+_\w+)\.[cm]?[jt]s$/;

async function migrationNamesOnDisk(orm: Orm): Promise<string[]> {
  const path = orm.config.get('migrations').path ?? migrationsPath;
  const files = await readdir(path);
  return files
    .map((file) => MIGRATION_FILE.exec(file)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

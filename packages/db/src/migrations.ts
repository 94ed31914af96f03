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

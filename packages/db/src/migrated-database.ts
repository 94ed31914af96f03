import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withDatabaseName } from './database-admin.ts';
import { migrateUp } from './migrations.ts';
import { createOrm, type Orm } from './orm.ts';

export interface MigratedDatabase {
  orm: Orm;
  databaseUrl: string;
  /** Closes the ORM and drops the database. */
  drop(): Promise<void>;
}

/**
 * A new database with a random name (`<prefix>_<hex>`) beside the one `serverUrl` names,
 * with every migration applied.
 */
export async function createMigratedDatabase(serverUrl: string, prefix: string): Promise<MigratedDatabase> {
  const databaseUrl = withDatabaseName(serverUrl, `${prefix}_${randomBytes(6).toString('hex')}`);
  await ensureDatabase(databaseUrl);
  const orm = await createOrm({ databaseUrl });
  const drop = async () => {
    await orm.close(true);
    await dropDatabase(databaseUrl);
  };
  try {
    await migrateUp(orm);
  } catch (error) {
    await drop();
    throw error;
  }
  return { orm, databaseUrl, drop };
}

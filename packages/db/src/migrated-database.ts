import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withDatabaseName } from './database-admin.ts';
import { migrateUp } from './migrations.ts';
import { createOrm, type Orm } from './orm.ts';

export interface MigratedDatabase {
  orm: Orm;
  databaseUrl: string;
  /** Closes the ORM and drops the database (with `keep`, only closes the ORM). */
  drop(): Promise<void>;
}

/**
 * A new database with a random name (`<prefix>_<hex>`) beside the one `serverUrl` names,
 * with every migration applied. `keep` leaves it on the server at `drop()`, for a scan of what
 * its user left behind; whoever asks for that drops it afterwards.
 */
export async function createMigratedDatabase(
  serverUrl: string,
  prefix: string,
  options: { readonly keep?: boolean } = {},
): Promise<MigratedDatabase> {
  const databaseUrl = withDatabaseName(serverUrl, `${prefix}_${randomBytes(6).toString('hex')}`);
  await ensureDatabase(databaseUrl);
  const orm = await createOrm({ databaseUrl });
  const remove = async () => {
    await orm.close(true);
    await dropDatabase(databaseUrl);
  };
  try {
    await migrateUp(orm);
  } catch (error) {
    await remove();
    throw error;
  }
  const drop = options.keep ? () => orm.close(true) : remove;
  return { orm, databaseUrl, drop };
}

import { Client, DatabaseError, escapeIdentifier } from 'pg';

const MAINTENANCE_DATABASE = 'postgres';

/**
 * Another process created the database between our check and our CREATE: PostgreSQL says
 * "duplicate_database" (42P04) if it had committed, and a unique violation on the catalog
 * (23505) if both CREATEs were running at once.
 */
function isConcurrentCreation(error: unknown): boolean {
  return (
    error instanceof DatabaseError &&
    (error.code === '42P04' || (error.code === '23505' && error.constraint === 'pg_database_datname_index'))
  );
}

export function databaseName(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  if (name === '') {
    throw new Error('DATABASE_URL names no database');
  }
  return name;
}

/** The same server and credentials, another database. */
export function withDatabaseName(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** CREATE/DROP DATABASE cannot run inside the target database, so they run from `postgres`. */
async function withMaintenanceClient<T>(
  databaseUrl: string,
  run: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: withDatabaseName(databaseUrl, MAINTENANCE_DATABASE) });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates the database `databaseUrl` names unless it exists. Returns whether it created it. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = databaseName(databaseUrl);
  return withMaintenanceClient(databaseUrl, async (client) => {
    const existing = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (existing.rowCount !== 0) {
      return false;
    }
    try {
      await client.query(`create database ${escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      if (isConcurrentCreation(error)) {
        return false;
      }
      throw error;
    }
  });
}

/** Drops the database even while sessions are still connected to it (tests that failed midway). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  await withMaintenanceClient(databaseUrl, async (client) => {
    await client.query(`drop database if exists ${escapeIdentifier(name)} with (force)`);
  });
}

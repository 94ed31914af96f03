import pg from 'pg';

/**
 * A short-lived connection per use: the suite cuts every connection to the run's database
 * (`pg_terminate_backend`), its own included if it kept one open.
 */
export async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export async function query<Row extends Record<string, unknown>>(
  databaseUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<Row[]> {
  return withClient(databaseUrl, async (client) => (await client.query<Row>(sql, params)).rows);
}

/** Cuts every other session of the run's database, as a PostgreSQL restart or failover would. */
export async function terminateConnections(databaseUrl: string): Promise<number> {
  const rows = await query<{ terminated: boolean }>(
    databaseUrl,
    `select pg_terminate_backend(pid) as terminated from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid()`,
  );
  return rows.filter((row) => row.terminated).length;
}

import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseName, dropDatabase, ensureDatabase, withDatabaseName } from './database-admin.ts';
import { readDatabaseUrl } from './database-url.ts';

const databaseUrl = withDatabaseName(readDatabaseUrl(), `ctp_test_${randomBytes(6).toString('hex')}`);

async function databaseExists(): Promise<boolean> {
  const client = new Client({ connectionString: withDatabaseName(databaseUrl, 'postgres') });
  await client.connect();
  try {
    const result = await client.query('select 1 from pg_database where datname = $1', [
      databaseName(databaseUrl),
    ]);
    return result.rowCount === 1;
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  await dropDatabase(databaseUrl);
});

describe('ensureDatabase', () => {
  it('creates a missing database, then leaves it alone', async () => {
    expect(await ensureDatabase(databaseUrl)).toBe(true);
    expect(await ensureDatabase(databaseUrl)).toBe(false);
    expect(await databaseExists()).toBe(true);
  });

  it('tolerates concurrent creators: exactly one creates, none fails', async () => {
    const created = await Promise.all([1, 2, 3, 4].map(() => ensureDatabase(databaseUrl)));
    expect(created.filter(Boolean)).toHaveLength(1);
  });
});

describe('dropDatabase', () => {
  it('drops a database that still has a session on it', async () => {
    await ensureDatabase(databaseUrl);
    const session = new Client({ connectionString: databaseUrl });
    await session.connect();
    session.on('error', () => {}); // the forced drop terminates it
    await dropDatabase(databaseUrl);
    expect(await databaseExists()).toBe(false);
    await session.end().catch(() => {});
  });
});

describe('database URLs', () => {
  it('name the database and swap it for another on the same server', () => {
    const url = 'postgresql://user:secret@db.example:6543/ctp?sslmode=disable';
    expect(databaseName(url)).toBe('ctp');
    expect(withDatabaseName(url, 'other')).toBe(
      'postgresql://user:secret@db.example:6543/other?sslmode=disable',
    );
  });
});

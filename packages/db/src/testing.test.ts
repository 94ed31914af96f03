import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseName, dropDatabase, withDatabaseName } from './database-admin.ts';
import { readDatabaseUrl } from './database-url.ts';
import { createTestDatabase, keepTestLog, keptTestDatabaseTag } from './testing.ts';

const VARIABLE = 'CTP_TEST_KEEP_DATABASES';
const before = process.env[VARIABLE];
const created: string[] = [];

async function exists(databaseUrl: string): Promise<boolean> {
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
  if (before === undefined) delete process.env[VARIABLE];
  else process.env[VARIABLE] = before;
  // A kept database is this test's to remove: it holds nothing, but the suite's scan drops only its own run's.
  for (const url of created.splice(0)) await dropDatabase(url);
});

describe('createTestDatabase', () => {
  it('drops the database at drop() by default', async () => {
    delete process.env[VARIABLE];
    const db = await createTestDatabase();
    created.push(db.databaseUrl);
    expect(databaseName(db.databaseUrl)).toMatch(/^ctp_test_[0-9a-f]{12}$/);
    await db.drop();
    expect(await exists(db.databaseUrl)).toBe(false);
  });

  it('with CTP_TEST_KEEP_DATABASES=<tag>, names it after the tag and keeps it at drop()', async () => {
    const tag = `t${randomBytes(4).toString('hex')}`;
    process.env[VARIABLE] = tag;
    const db = await createTestDatabase();
    created.push(db.databaseUrl);
    expect(databaseName(db.databaseUrl)).toMatch(new RegExp(`^ctp_test_${tag}_[0-9a-f]{12}$`));
    await db.drop();
    expect(await exists(db.databaseUrl)).toBe(true);
    expect(databaseName(readDatabaseUrl())).not.toBe(databaseName(db.databaseUrl));
  });

  it('refuses a tag that could reach outside its own names', () => {
    expect(keptTestDatabaseTag({})).toBeUndefined();
    expect(keptTestDatabaseTag({ [VARIABLE]: '' })).toBeUndefined();
    expect(keptTestDatabaseTag({ [VARIABLE]: 'run1733' })).toBe('run1733');
    for (const bad of ['%', 'a_b', 'A', 'x'.repeat(25), "a'; drop"])
      expect(() => keptTestDatabaseTag({ [VARIABLE]: bad })).toThrow(VARIABLE);
  });
});

describe('keepTestLog', () => {
  it('writes the lines to a file of their own under CTP_TEST_LOG_DIR, and nowhere without it', async () => {
    const before = process.env.CTP_TEST_LOG_DIR;
    const dir = await mkdtemp(join(tmpdir(), 'kept-logs-'));
    try {
      delete process.env.CTP_TEST_LOG_DIR;
      await keepTestLog('api', ['{"msg":"not kept"}\n']);
      process.env.CTP_TEST_LOG_DIR = join(dir, 'logs');
      await keepTestLog('api', ['{"msg":"one"}\n', '{"msg":"two"}']);
      await keepTestLog('e2e', ['{"msg":"three"}\n']);
      const files = (await readdir(join(dir, 'logs'))).sort();
      expect(files).toHaveLength(2);
      expect(files[0]).toMatch(/^api-\d+-[0-9a-f]{8}\.log$/);
      expect(await readFile(join(dir, 'logs', files[0] ?? ''), 'utf8')).toBe(
        '{"msg":"one"}\n{"msg":"two"}\n',
      );
      expect(await readFile(join(dir, 'logs', files[1] ?? ''), 'utf8')).toBe('{"msg":"three"}\n');
    } finally {
      if (before === undefined) delete process.env.CTP_TEST_LOG_DIR;
      else process.env.CTP_TEST_LOG_DIR = before;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

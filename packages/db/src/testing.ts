import { randomBytes } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readDatabaseUrl } from './database-url.ts';
import { createMigratedDatabase, type MigratedDatabase } from './migrated-database.ts';

export type TestDatabase = MigratedDatabase;

/**
 * Set to a run tag (letters and digits), `CTP_TEST_KEEP_DATABASES` names the test databases
 * `ctp_test_<tag>_<hex>` and makes `drop()` keep them, so that `scripts/test.sh` can scan what
 * the whole suite left for card numbers and then drop `ctp_test_<tag>_*` itself. The tag keeps
 * one run's databases apart from those of any other run on the same server.
 */
const KEEP_VARIABLE = 'CTP_TEST_KEEP_DATABASES';

/** The run tag of `CTP_TEST_KEEP_DATABASES`, or undefined when the databases are dropped. */
export function keptTestDatabaseTag(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const tag = env[KEEP_VARIABLE];
  if (tag === undefined || tag === '') return undefined;
  if (!/^[a-z0-9]{1,24}$/.test(tag)) {
    throw new Error(
      `${KEEP_VARIABLE} must be 1–24 lowercase letters or digits (a run tag), not ${JSON.stringify(tag)}`,
    );
  }
  return tag;
}

/**
 * A fresh, fully migrated database of its own (`ctp_test_<random>`) on the server of
 * `DATABASE_URL`, so test files can run in parallel. Call `drop()` in `afterAll`.
 */
export function createTestDatabase(): Promise<TestDatabase> {
  const tag = keptTestDatabaseTag();
  return createMigratedDatabase(readDatabaseUrl(), tag === undefined ? 'ctp_test' : `ctp_test_${tag}`, {
    keep: tag !== undefined,
  });
}

/**
 * The log lines a test captured in memory, written to a file of its own under `CTP_TEST_LOG_DIR`
 * when that is set (`scripts/test.sh` sets it to `reports/logs`), so that the card-number scan
 * after the suite reads what the processes logged; nothing when it is not.
 */
export async function keepTestLog(name: string, lines: readonly string[]): Promise<void> {
  const dir = process.env.CTP_TEST_LOG_DIR;
  if (dir === undefined || dir === '' || lines.length === 0) return;
  await mkdir(dir, { recursive: true });
  const text = lines.map((line) => (line.endsWith('\n') ? line : `${line}\n`)).join('');
  await appendFile(join(dir, `${name}-${process.pid}-${randomBytes(4).toString('hex')}.log`), text);
}

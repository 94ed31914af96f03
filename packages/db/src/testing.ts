import { readDatabaseUrl } from './database-url.ts';
import { createMigratedDatabase, type MigratedDatabase } from './migrated-database.ts';

export type TestDatabase = MigratedDatabase;

/**
 * A fresh, fully migrated database of its own (`ctp_test_<random>`) on the server of
 * `DATABASE_URL`, so test files can run in parallel. Call `drop()` in `afterAll`.
 */
export function createTestDatabase(): Promise<TestDatabase> {
  return createMigratedDatabase(readDatabaseUrl(), 'ctp_test');
}

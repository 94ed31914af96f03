export {
  createOrmConfig,
  type DatabaseTimeouts,
  DEFAULT_DATABASE_TIMEOUTS,
  databaseTimeoutsOf,
  migrationsPath,
  type OrmConfigInput,
  POOL_CONNECTION_LIFETIME_S,
  POOL_IDLE_TIMEOUT_MS,
} from './config.ts';
export { databaseName, dropDatabase, ensureDatabase, withDatabaseName } from './database-admin.ts';
export { DEFAULT_DATABASE_URL, readDatabaseUrl } from './database-url.ts';
export { createMigratedDatabase, type MigratedDatabase } from './migrated-database.ts';
export { createMigration, migrateDown, migrateUp, pendingMigrations } from './migrations.ts';
export { createOrm, type Orm } from './orm.ts';
export { sqlPool } from './pool.ts';
export { databaseReadinessChecks } from './readiness.ts';

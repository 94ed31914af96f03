import { fileURLToPath } from 'node:url';
import { allEntities, allRoutines } from '@ctp/core/entities';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';

/**
 * Server-side limits every pooled connection carries (sent at connect, so they hold for the unit
 * of work and for `SqlSession`'s transactions alike). `0` turns one off.
 */
export interface DatabaseTimeouts {
  /** A statement running longer is cancelled (57014). */
  readonly statementMs: number;
  /** A lock wait longer than this fails (55P03) instead of queueing without end behind a stuck holder. */
  readonly lockMs: number;
  /**
   * A session idle inside an open transaction this long is ended by the server, releasing its
   * locks: a process that stalls mid-transaction cannot hold an entity's lock for ever.
   */
  readonly idleInTransactionMs: number;
}

/**
 * Generous for an OLTP service whose statements take milliseconds, tight enough that a stuck
 * holder or a runaway statement is cut off in seconds, not hours.
 */
export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = {
  statementMs: 30_000,
  lockMs: 10_000,
  idleInTransactionMs: 60_000,
};

/**
 * The pool keeps its connections warm. A new connection is a new PostgreSQL backend: empty
 * catalog caches, every hot statement prepared again, and each planned anew for its first five
 * runs before PostgreSQL settles on a generic plan. `pg`'s default closed a connection idle for
 * 10 s, and the lifetime was 60 s: under steady load each process opened several new backends a
 * minute, and after any lull of 10 s the first requests all ran on new ones (the bench's
 * half-rate run, which starts after an 11 s pause: its first half second at a p50 of 153 ms
 * against 55–67 ms after it; BENCHMARKS.md, thirteenth session). As HikariCP's defaults: a
 * connection idle for 10 minutes is closed, and none lives longer than 30 minutes.
 *
 * The 60 s lifetime was there to renew plans: a generic plan made while a table was nearly
 * empty stayed as it grew, where nothing analyzed the tables (autovacuum off). Now something
 * always does (autovacuum, or the worker's table upkeep where it is off), and an ANALYZE
 * invalidates the cached plans of its table on every connection: the next run plans with the
 * new statistics.
 */
export const POOL_CONNECTION_LIFETIME_S = 1_800;
export const POOL_IDLE_TIMEOUT_MS = 600_000;

/** The timeouts of the process's configuration (`DATABASE_*_TIMEOUT_MS`). */
export function databaseTimeoutsOf(config: {
  readonly DATABASE_STATEMENT_TIMEOUT_MS: number;
  readonly DATABASE_LOCK_TIMEOUT_MS: number;
  readonly DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: number;
}): DatabaseTimeouts {
  return {
    statementMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    lockMs: config.DATABASE_LOCK_TIMEOUT_MS,
    idleInTransactionMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

export interface OrmConfigInput {
  databaseUrl: string;
  /** Defaults: `DEFAULT_DATABASE_TIMEOUTS`. */
  timeouts?: Partial<DatabaseTimeouts>;
  /** PostgreSQL schema (search path) for the entities; `public` when absent. */
  schema?: string;
  debug?: boolean;
}

/** Absolute, so the CLI, the apps and the tests find the same files whatever their cwd. */
export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

// Annotated: the inferred type spells out every entity's properties, down to types that
// `declaration` output cannot name from this package (TS2742).
export function createOrmConfig({ databaseUrl, schema, debug = false, timeouts }: OrmConfigInput): Options {
  const limits = { ...DEFAULT_DATABASE_TIMEOUTS, ...timeouts };
  return defineConfig({
    clientUrl: databaseUrl,
    // Passed to every `pg` connection of the pool (the timeouts as startup parameters).
    driverOptions: {
      // pg's pipeline mode: statements handed to a connection together go out together, so
      // `SqlSession` sends a batch of bound-parameter statements in one round trip (see there).
      // A caller that awaits each statement, as the unit of work does, sees no difference.
      pipeline: true,
      // A connection lives at most this long (closed when next released after it); see there.
      maxLifetimeSeconds: POOL_CONNECTION_LIFETIME_S,
      statement_timeout: limits.statementMs,
      lock_timeout: limits.lockMs,
      idle_in_transaction_session_timeout: limits.idleInTransactionMs,
    },
    pool: { idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS },
    ...(schema === undefined ? {} : { schema }),
    entities: [...allEntities],
    routines: allRoutines,
    extensions: [Migrator],
    debug,
    // Databases are created by `ensureDatabase` (the migrate command, the test helper) only:
    // an app pointed at a wrong URL should fail, not start on a new empty database.
    ensureDatabase: false,
    migrations: {
      // The .ts files run as they are (Node type stripping), so both paths are the sources.
      path: migrationsPath,
      pathTs: migrationsPath,
      emit: 'ts',
      // The CLI reports what it applied; the ORM's own per-migration log would only repeat it.
      silent: true,
      // No snapshot file: `create` diffs against a database the migrations built (see the CLI).
      snapshot: false,
    },
  });
}

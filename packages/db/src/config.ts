import { fileURLToPath } from 'node:url';
import { allEntities } from '@ctp/core/entities';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';

export interface OrmConfigInput {
  databaseUrl: string;
  /** PostgreSQL schema (search path) for the entities; `public` when absent. */
  schema?: string;
  debug?: boolean;
}

/** Absolute, so the CLI, the apps and the tests find the same files whatever their cwd. */
export const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

// Annotated: the inferred type spells out every entity's properties, down to types that
// `declaration` output cannot name from this package (TS2742).
export function createOrmConfig({ databaseUrl, schema, debug = false }: OrmConfigInput): Options {
  return defineConfig({
    clientUrl: databaseUrl,
    ...(schema === undefined ? {} : { schema }),
    entities: [...allEntities],
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

import { databaseName, ensureDatabase } from '../database-admin.ts';
import { readDatabaseUrl } from '../database-url.ts';
import { createMigratedDatabase } from '../migrated-database.ts';
import { createMigration, migrateDown, migrateUp } from '../migrations.ts';
import { createOrm, type Orm } from '../orm.ts';

/**
 * `pnpm db:migrate` and friends: `up` (create the database if needed, apply what is pending),
 * `down` (revert the last migration), `create [name]` (write a migration for the entity diff).
 */

function report(verb: string, names: readonly string[]): void {
  console.log(
    names.length === 0 ? `Nothing to ${verb}.` : names.map((name) => `${verb}: ${name}`).join('\n'),
  );
}

async function withOrm(databaseUrl: string, run: (orm: Orm) => Promise<void>): Promise<void> {
  // A migration may build an index over millions of rows: no statement timeout for it.
  const orm = await createOrm({ databaseUrl, timeouts: { statementMs: 0 } });
  try {
    await run(orm);
  } finally {
    await orm.close();
  }
}

async function up(databaseUrl: string): Promise<void> {
  if (await ensureDatabase(databaseUrl)) {
    console.log(`Created database ${databaseName(databaseUrl)}.`);
  }
  await withOrm(databaseUrl, async (orm) => report('apply', await migrateUp(orm)));
}

async function down(databaseUrl: string): Promise<void> {
  await withOrm(databaseUrl, async (orm) => report('revert', await migrateDown(orm)));
}

/**
 * Diffs the entities against a scratch database holding exactly what the existing migrations
 * build, so neither the state of the local database nor its data can leak into the migration.
 */
async function create(databaseUrl: string, name: string | undefined): Promise<void> {
  const scratch = await createMigratedDatabase(databaseUrl, 'ctp_migration');
  try {
    const fileName = await createMigration(scratch.orm, name);
    console.log(
      fileName === undefined ? 'Entities and migrations agree: nothing to create.' : `Created ${fileName}.`,
    );
  } finally {
    await scratch.drop();
  }
}

async function main([command, name]: readonly (string | undefined)[]): Promise<void> {
  const databaseUrl = readDatabaseUrl();
  switch (command) {
    case 'up':
      return up(databaseUrl);
    case 'down':
      return down(databaseUrl);
    case 'create':
      return create(databaseUrl, name);
    default:
      throw new Error(`Unknown command ${command ?? '(none)'}; expected up, down or create [name].`);
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}

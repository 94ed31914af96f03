import type { ReadinessCheck } from '@ctp/core/runtime';
import { pendingMigrations } from './migrations.ts';
import type { Orm } from './orm.ts';

/**
 * The database half of every app's `/readyz`: PostgreSQL answers, and its schema has every
 * migration this code was built for. A process whose migrations are not applied yet (a deploy
 * ahead of `pnpm db:migrate`) stays out of rotation instead of failing requests on a missing
 * column.
 */
export function databaseReadinessChecks(orm: Orm): ReadinessCheck[] {
  return [
    { name: 'postgresql', check: async () => void (await orm.em.getConnection().execute('select 1')) },
    {
      name: 'migrations',
      check: async () => {
        const pending = await pendingMigrations(orm);
        if (pending.length > 0) throw new Error(`pending migrations: ${pending.join(', ')}`);
      },
    },
  ];
}

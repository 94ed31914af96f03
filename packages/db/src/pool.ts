import type { PostgreSqlConnection } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import type { Orm } from './orm.ts';

/**
 * The `pg` pool of an ORM made by `createOrm`: the pool `SqlSession` runs on (its connections in
 * pipeline mode, with the timeouts of `createOrmConfig`), for code and tests that need a
 * connection of their own.
 */
export function sqlPool(orm: Orm): Promise<Pool> {
  return (orm.em.getConnection() as PostgreSqlConnection).getNativeClient();
}

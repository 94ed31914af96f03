import { MikroORM } from '@mikro-orm/postgresql';
import { createOrmConfig, type OrmConfigInput } from './config.ts';

export type Orm = MikroORM;

/** Connects and discovers the entities; the migrator is `orm.migrator`, the schema tools `orm.schema`. */
export function createOrm(input: OrmConfigInput): Promise<Orm> {
  return MikroORM.init(createOrmConfig(input));
}

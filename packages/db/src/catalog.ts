import type { Orm } from './orm.ts';

/**
 * Reads of the PostgreSQL catalog, for tests that check what the migrations built rather than
 * what the entities say. Names come back exactly as stored (case included).
 */

export async function tableNames(orm: Orm): Promise<string[]> {
  const rows = await orm.em.execute<{ table_name: string }[]>(
    `select table_name from information_schema.tables
     where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`,
  );
  return rows.map((row) => row.table_name);
}

export async function columnNames(orm: Orm, table: string): Promise<string[]> {
  const rows = await orm.em.execute<{ column_name: string }[]>(
    `select column_name from information_schema.columns
     where table_schema = current_schema() and table_name = ? order by ordinal_position`,
    [table],
  );
  return rows.map((row) => row.column_name);
}

export interface ForeignKey {
  table: string;
  column: string;
  referencedTable: string;
  referencedColumn: string;
}

/** Single-column foreign keys of the current schema. */
export function foreignKeys(orm: Orm): Promise<ForeignKey[]> {
  return orm.em.execute<ForeignKey[]>(
    `select src.relname as "table", src_col.attname as "column",
            dst.relname as "referencedTable", dst_col.attname as "referencedColumn"
     from pg_constraint c
     join pg_class src on src.oid = c.conrelid
     join pg_class dst on dst.oid = c.confrelid
     join pg_attribute src_col on src_col.attrelid = c.conrelid and src_col.attnum = c.conkey[1]
     join pg_attribute dst_col on dst_col.attrelid = c.confrelid and dst_col.attnum = c.confkey[1]
     where c.contype = 'f' and src.relnamespace = current_schema()::regnamespace`,
  );
}

export interface IndexDefinition {
  table: string;
  columns: string[];
  unique: boolean;
  /** The partial index's predicate, as PostgreSQL prints it; null for a full index. */
  predicate: string | null;
}

export async function indexDefinition(orm: Orm, indexName: string): Promise<IndexDefinition | undefined> {
  const rows = await orm.em.execute<IndexDefinition[]>(
    `select t.relname as "table",
            array_agg(a.attname::text order by k.position) as "columns",
            x.indisunique as "unique",
            pg_get_expr(x.indpred, x.indrelid) as "predicate"
     from pg_index x
     join pg_class i on i.oid = x.indexrelid
     join pg_class t on t.oid = x.indrelid
     cross join unnest(x.indkey) with ordinality as k(attnum, position)
     join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum
     where i.relname = ? and i.relnamespace = current_schema()::regnamespace
     group by t.relname, x.indisunique, x.indpred, x.indrelid`,
    [indexName],
  );
  return rows[0];
}

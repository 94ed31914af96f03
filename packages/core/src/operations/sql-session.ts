import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import pg, { type Pool, type PoolClient, type QueryResult } from 'pg';

/** One SQL statement with `?` placeholders, as the unit of work's `execute` takes them. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

export const sql = (text: string, params: readonly unknown[] = []): Statement => ({ sql: text, params });

/**
 * A transaction on one pooled connection of the ORM's own `pg` pool, for the hot lifecycle steps:
 * several statements go in one round trip (PostgreSQL's simple-query protocol runs them in
 * order, each with a fresh snapshot under READ COMMITTED), the `begin` rides with the first
 * batch and the `commit` with the last. A step is then two round trips: lock and read, then write
 * and commit. Values are inlined by the ORM's own quoting (`formatQuery`), exactly as its
 * `execute` sends them. Errors are converted like the ORM's (e.g.
 * `UniqueConstraintViolationException`), and a failed transaction is rolled back before its
 * connection goes back to the pool.
 */
export class SqlSession {
  readonly #client: PoolClient;
  readonly #format: (statement: Statement) => string;
  #open = false;
  #done = false;

  private constructor(client: PoolClient, format: (statement: Statement) => string) {
    this.#client = client;
    this.#format = format;
  }

  static async transaction<T>(em: EntityManager, work: (session: SqlSession) => Promise<T>): Promise<T> {
    const connection = em.getConnection() as unknown as { getNativeClient(): Promise<Pool> };
    const platform = em.getPlatform();
    const pool = await connection.getNativeClient();
    const client = await pool.connect();
    const session = new SqlSession(client, (s) => platform.formatQuery(s.sql, [...s.params]));
    let broken: Error | undefined;
    try {
      const result = await work(session);
      if (session.#open && !session.#done) await session.run([], { commit: true });
      return result;
    } catch (error) {
      if (session.#open && !session.#done) {
        await client.query('rollback').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      throw error instanceof pg.DatabaseError
        ? platform.getExceptionConverter().convertException(error)
        : error;
    } finally {
      // A connection whose rollback failed is discarded, not reused.
      client.release(broken);
    }
  }

  /**
   * Sends `statements` in one round trip (after `begin` if the transaction is not open yet, and
   * before `commit` when asked) and returns each statement's rows, in order.
   */
  async run(statements: readonly Statement[], options: { commit?: boolean } = {}): Promise<unknown[][]> {
    if (this.#done) throw new Error('the transaction is already committed');
    const begin = !this.#open;
    const commit = options.commit === true;
    const parts = [
      ...(begin ? ['begin'] : []),
      ...statements.map(this.#format),
      ...(commit ? ['commit'] : []),
    ];
    if (parts.length === 0) return [];
    this.#open = true;
    const raw = (await this.#client.query(parts.join(';\n'))) as QueryResult | QueryResult[];
    if (commit) this.#done = true;
    const results = Array.isArray(raw) ? raw : [raw];
    return results.slice(begin ? 1 : 0, begin ? 1 + statements.length : statements.length).map((r) => r.rows);
  }
}

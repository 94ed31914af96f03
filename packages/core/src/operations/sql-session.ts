import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import pg, { type Pool, type PoolClient, type QueryResult } from 'pg';

/** One SQL statement with `?` placeholders, as the unit of work's `execute` takes them. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /**
   * The statement's first row says whether its guard held (`applied`); when it did not, the
   * statement wrote nothing and the step is run again from a fresh read (see `StepWrites`).
   */
  readonly guarded?: boolean;
}

/**
 * A step's guarded writes found their rows moved by another writer since the step read them
 * (the entity lock should make this impossible; the guard makes it harmless). The statement
 * wrote nothing; `SqlSession.transaction` runs the step again from a fresh read.
 */
export class LostRace extends Error {
  override readonly name = 'LostRace';
}

/** How often a step is run again after a lost race before the caller sees `LostRace`. */
const LOST_RACE_ATTEMPTS = 3;

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

  /**
   * Runs `work` in one transaction; again (from its first statement, on a fresh connection) when
   * a guarded statement reports a lost race, up to 3 times in all.
   */
  static async transaction<T>(em: EntityManager, work: (session: SqlSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await SqlSession.#once(em, work);
      } catch (error) {
        if (!(error instanceof LostRace) || attempt >= LOST_RACE_ATTEMPTS) throw error;
      }
    }
  }

  static async #once<T>(em: EntityManager, work: (session: SqlSession) => Promise<T>): Promise<T> {
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
    const rows = results
      .slice(begin ? 1 : 0, begin ? 1 + statements.length : statements.length)
      .map((r) => r.rows);
    // A guarded statement that did not apply wrote nothing (committed or not, the step has no
    // effect); before a commit the transaction is rolled back by `transaction`.
    statements.forEach((statement, i) => {
      if (statement.guarded === true && (rows[i]?.[0] as { applied?: boolean } | undefined)?.applied !== true)
        throw new LostRace('a guarded write found its rows changed by another writer; nothing was written');
    });
    return rows;
  }
}

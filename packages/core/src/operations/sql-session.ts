import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { CompiledQuery } from 'kysely';
import pg, { type Pool, type PoolClient, type QueryResult } from 'pg';
import type { OutboxRow } from './outbox.ts';

/**
 * One statement as `SqlSession` sends it: a fixed text (made by `defineStatement`, once, at
 * module load) with its values bound as parameters, never inlined into the text.
 */
export interface Statement<Row = unknown> {
  /** The prepared statement's name; one name is always the same text. */
  readonly name: string;
  readonly text: string;
  readonly values: readonly unknown[];
  /**
   * The entity this statement locks (`FOR UPDATE`), for a shared transaction: there every lock of
   * a round trip is taken by one statement, in one order (`shared-transaction.ts`).
   */
  readonly lock?: LockTarget;
  /**
   * The statement may write outbox rows: the transaction that runs it wakes the relay right after
   * its commit (`WAKE_RELAY`).
   */
  readonly wakesRelay?: boolean;
  /**
   * The outbox rows this statement writes, and the same statement with those rows leased to the
   * writer: a session whose pool has an `OutboxPublisher` sends that one and has the rows
   * published right after its commit (`forPublisher`).
   */
  readonly publishable?: {
    readonly rows: readonly OutboxRow[];
    leased(leaseMs: number): Statement<Row>;
  };
  /**
   * Every value is a JSON array of rows and the statement writes each row for itself: statements
   * of this name in one round trip of a shared transaction may be sent as one, each value the
   * rows of all of them (`mergeSets`).
   */
  readonly sets?: true;
  /** Only carries the row type. */
  readonly row?: Row;
}

/** An entity named by its key, or found through one of its operations or traces. */
export type LockTarget =
  | { readonly tenant: string; readonly entityId: string }
  | { readonly operationId: string }
  | { readonly tenant: string; readonly requestTraceId: string };

/**
 * What a lifecycle step sees of its transaction: `run` sends statements in one round trip and
 * returns their rows; `commit: true` ends the transaction with them. `SqlSession` is one
 * transaction per step; `sharedTransaction` (shared-transaction.ts) shares one among the steps
 * that are ready together.
 */
export interface StepSession {
  run<Rows extends unknown[][] = unknown[][]>(
    statements: readonly Statement<unknown>[],
    options?: { commit?: boolean },
  ): Promise<Rows>;
}

/** Every statement text by its name: a name is never given to two texts. */
const DEFINED = new Map<string, string>();

/**
 * A fixed statement with named parameters (`$name`; the same name may appear several times),
 * compiled once to PostgreSQL's `$1…$n` and prepared by name on each connection that runs it.
 * Its values are bound by name, typed by `Params`; its rows are typed by `Row`.
 */
export function defineStatement<Params extends Record<string, unknown>, Row = unknown>(
  name: string,
  text: string,
  definition: { sets?: boolean } = {},
): (
  params: Params,
  options?: { lock?: LockTarget; wakesRelay?: boolean; publishable?: Statement<Row>['publishable'] },
) => Statement<Row> {
  const order: string[] = [];
  const compiled = text.replace(/\$([a-z_][a-z0-9_]*)/gi, (_, param: string) => {
    let index = order.indexOf(param);
    if (index < 0) index = order.push(param) - 1;
    return `$${index + 1}`;
  });
  const known = DEFINED.get(name);
  if (known !== undefined && known !== compiled)
    throw new Error(`statement ${name} is already defined with another text`);
  DEFINED.set(name, compiled);
  return (params, options) => {
    const values = order.map((param) => {
      if (!(param in params)) throw new Error(`statement ${name} needs a value for $${param}`);
      return params[param] ?? null;
    });
    return {
      name,
      text: compiled,
      values,
      ...(options?.lock === undefined ? {} : { lock: options.lock }),
      ...(options?.wakesRelay === true ? { wakesRelay: true } : {}),
      ...(options?.publishable === undefined ? {} : { publishable: options.publishable }),
      ...(definition.sets === true ? { sets: true } : {}),
    };
  };
}

/**
 * Whether `second` can go as part of `first` (`mergeSets`): both of one `sets` definition, every
 * value a JSON array.
 */
export function canMergeSets(first: Statement<unknown>, second: Statement<unknown>): boolean {
  return (
    first.sets === true &&
    second.sets === true &&
    first.name === second.name &&
    first.values.every(isJsonArray) &&
    second.values.every(isJsonArray)
  );
}

/**
 * Statements of one `sets` definition (`canMergeSets`, pairwise with the first) as one: each
 * value the rows of each statement in turn, the arrays' JSON joined once, not parsed again.
 * Joined pairwise, each merge read the text merged so far again (a rope flattened by its
 * `endsWith` and `slice`): quadratic in a group's size, 0.9 % of the worker's busy time in the
 * batch phase, whose feeder sends groups of 64.
 */
export function mergeSets<Row>(statements: readonly [Statement<Row>, ...Statement<Row>[]]): Statement<Row> {
  const [first] = statements;
  if (statements.length === 1) return first;
  const values = first.values.map((_, i) => {
    const rows = statements.map((s) => s.values[i] as string).filter((v) => v !== '[]');
    return rows.length === 0 ? '[]' : `[${rows.map((v) => v.slice(1, -1)).join(',')}]`;
  });
  // Merged after `forPublisher`: a leased statement has no `publishable` left to carry.
  const { publishable: _first, wakesRelay: _wakes, ...rest } = first;
  return {
    ...rest,
    values,
    ...(statements.some((s) => s.wakesRelay === true) ? { wakesRelay: true } : {}),
  };
}

/**
 * What a process that publishes its own committed outbox rows offers the sessions on its pool
 * (`OutboxPublisher`).
 */
export interface CommittedRowsPublisher {
  /** How long the rows are leased to the writer (`claimed_until`). */
  readonly leaseMs: number;
  /** The rows are committed: publish them (never throws; the relay takes what fails). */
  publishCommitted(rows: readonly OutboxRow[]): void;
}

const publishers = new WeakMap<Pool, CommittedRowsPublisher>();

/**
 * The sessions on `em`'s pool lease their outbox rows to `publisher` and hand them to it after
 * their commit. Returns the detach.
 */
export async function attachCommittedPublisher(
  em: EntityManager,
  publisher: CommittedRowsPublisher,
): Promise<() => void> {
  const pool = await poolOf(em);
  publishers.set(pool, publisher);
  return () => {
    if (publishers.get(pool) === publisher) publishers.delete(pool);
  };
}

export function publisherOf(pool: Pool): CommittedRowsPublisher | undefined {
  return publishers.get(pool);
}

/**
 * The statements as a session on a pool with `publisher` sends them: each that writes outbox rows
 * with those rows leased to the writer (which then needs no wake-up of the relay), the rows added
 * to `published`, to be handed to the publisher once committed. Without a publisher, unchanged.
 */
export function forPublisher(
  statements: readonly Statement<unknown>[],
  publisher: CommittedRowsPublisher | undefined,
  published: OutboxRow[],
): readonly Statement<unknown>[] {
  if (publisher === undefined || !statements.some((s) => s.publishable !== undefined)) return statements;
  return statements.map((statement) => {
    if (statement.publishable === undefined) return statement;
    published.push(...statement.publishable.rows);
    return statement.publishable.leased(publisher.leaseMs);
  });
}

const isJsonArray = (value: unknown): value is string =>
  typeof value === 'string' && value.startsWith('[') && value.endsWith(']');

/**
 * Refuses a statement that is not one of the defined fixed texts: one built or patched by hand,
 * or a text a value was spliced into (its name is then defined with a second text on the next
 * call with another value, and `defineStatement` refuses that). Looking for the values
 * themselves in the text was rejected: a client's entity id that happens to equal a literal of a
 * fixed text (`'notification'`, `'IN_PROGRESS'`) would be refused, a false alarm that fails a
 * request.
 */
export function checkStatement(statement: Statement<unknown>): void {
  if (DEFINED.get(statement.name) !== statement.text)
    throw new Error(`statement ${statement.name || '(unnamed)'} is not a defined fixed text; refused`);
}

/**
 * Runs a fixed text whose parameters are `?` (the form `EXPLAIN` tests and the bench share) with
 * its values bound, on `em`'s connection (its transaction, if it is in one): the placeholders
 * become `$1…$n`, the values never enter the text (the ORM's own `execute` would inline them).
 */
export async function queryBound<Row>(
  em: EntityManager,
  text: string,
  values: readonly unknown[],
): Promise<Row[]> {
  let n = 0;
  const numbered = text.replace(/\?/g, () => `$${++n}`);
  const result = await em.getKysely().executeQuery<Row>(CompiledQuery.raw(numbered, [...values]));
  return [...result.rows];
}

/**
 * Runs a defined statement on `em`'s connection, inside its ORM transaction if it is in one (an
 * operator action's audit row), with the same checks as `SqlSession`. A statement that may write
 * outbox rows wakes the relay from inside that transaction (the ORM offers no round trip after
 * its commit; `WAKE_RELAY` says what that costs).
 */
export async function executeOnOrm<Row>(em: EntityManager, statement: Statement<Row>): Promise<Row[]> {
  checkStatement(statement);
  const kysely = em.getKysely();
  const result = await kysely.executeQuery<Row>(CompiledQuery.raw(statement.text, [...statement.values]));
  if (statement.wakesRelay === true) await kysely.executeQuery(CompiledQuery.raw(WAKE_RELAY.text, []));
  return [...result.rows];
}

/**
 * A step's guarded writes found their rows moved by another writer since the step read them
 * (the entity lock should make this impossible; the guard makes it harmless). The statement
 * failed (`ctp_guard`, SQLSTATE `CTPLR`), so the transaction committed nothing;
 * `SqlSession.transaction` runs the step again from a fresh read.
 */
export class LostRace extends Error {
  override readonly name = 'LostRace';
}

const LOST_RACE_SQLSTATE = 'CTPLR';

/** A statement's failure, as `LostRace` when a guard raised it. */
function lostRaceOr(error: unknown): unknown {
  return error instanceof pg.DatabaseError && error.code === LOST_RACE_SQLSTATE
    ? new LostRace(error.message)
    : error;
}

/** How often a step is run again after a lost race before the caller sees `LostRace`. */
const LOST_RACE_ATTEMPTS = 3;

export const BEGIN: Statement = { name: '', text: 'begin', values: [] };
export const COMMIT: Statement = { name: '', text: 'commit', values: [] };

/** The PostgreSQL channel the relay LISTENs on (`apps/worker/src/relay.ts`). */
export const OUTBOX_CHANNEL = 'ctp_outbox';

/**
 * The relay's wake-up after a commit that wrote outbox rows: a `pg_notify` in a transaction of
 * its own, sent right after the `commit` in the same round trip. Not inside the writing
 * transaction: PostgreSQL serializes the commits of all transactions that NOTIFY (a lock held
 * from before the commit until after its WAL flush), so a NOTIFY in every step's transaction
 * would make the steps' commits queue one behind the other. Measured with pgbench (16 clients,
 * one insert per transaction, this machine): 290–350 commits/s with the NOTIFY inside, 1,940
 * with it right after the commit, 2,550–3,000 with none. The wake-up carries no data; if it is
 * lost (the process or the connection dies between the two), the relay's poll finds the rows;
 * if the commit turned out a rollback (a statement before it failed), it wakes the relay for
 * nothing, which is harmless.
 */
export const WAKE_RELAY: Statement = {
  // Named: parsed and planned once per connection (a simple query was planned on every commit).
  name: 'ctp_wake_relay',
  text: `select pg_notify('${OUTBOX_CHANNEL}', '')`,
  values: [],
};

/**
 * Sends `batch` pipelined (every statement handed to the connection before any answer is
 * awaited: one round trip) and returns each statement's result, or throws the first failure.
 * With `wake`, `WAKE_RELAY` follows the batch (which then ends with its commit) in the same round
 * trip; its own failure is ignored: what came before it is committed either way.
 */
export async function sendPipelined(
  client: PoolClient,
  batch: readonly Statement<unknown>[],
  options: { wake?: boolean } = {},
): Promise<QueryResult[]> {
  // Corked: the whole batch leaves in one write. pg corks each extended-protocol statement's
  // messages, but writes every statement (and every simple `begin`/`commit`) on its own: a
  // system call per statement on this side, and on PostgreSQL's side a wake-up and a read per
  // packet. The profile of the api and the worker had their socket writes at a quarter of their
  // busy time.
  const stream = client.connection.stream;
  stream.cork();
  let sent: Promise<QueryResult>[];
  let wake: Promise<unknown> | undefined;
  try {
    const send = (s: Statement<unknown>) =>
      s.name === ''
        ? client.query(s.text)
        : client.query({ name: s.name, text: s.text, values: [...s.values] });
    sent = batch.map(send);
    wake = options.wake === true ? send(WAKE_RELAY).catch(() => undefined) : undefined;
  } finally {
    stream.uncork();
  }
  const settled = await Promise.allSettled(sent);
  await wake;
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<QueryResult>).value);
}

/**
 * The pool of the ORM's connection: the one `@ctp/db` configures (`createOrmConfig`), whose
 * connections run in pipeline mode. Refused if it is not (`@ctp/db` is the only place that sets
 * the pool up; `@ctp/core` cannot import it, `@ctp/db` depends on `@ctp/core`).
 */
export async function poolOf(em: EntityManager): Promise<Pool> {
  const pool = await em.getConnection().getNativeClient();
  if (!(pool instanceof pg.Pool)) throw new Error('SqlSession needs the pg pool of @ctp/db');
  if ((pool.options as { pipeline?: boolean }).pipeline !== true)
    throw new Error('SqlSession needs the pipelined pg pool of @ctp/db (createOrmConfig)');
  return pool;
}

/**
 * A connection of `em`'s pool. A failure to connect (the server down, refusing, full) is converted
 * like any driver error, so callers see the ORM's exception with its code (`ECONNREFUSED`, `53300`)
 * and the api answers 503, not 500.
 */
async function connect(em: EntityManager): Promise<{ pool: Pool; client: PoolClient }> {
  const pool = await poolOf(em);
  try {
    return { pool, client: await pool.connect() };
  } catch (error) {
    throw error instanceof Error ? em.getPlatform().getExceptionConverter().convertException(error) : error;
  }
}

/**
 * A transaction on one pooled connection of the ORM's own `pg` pool, for the hot lifecycle steps.
 *
 * Round trips. Every statement is a fixed text with bound parameters (extended protocol, named
 * so each connection parses it once). node-postgres sends one extended-protocol statement per
 * message cycle, so without more the step "begin, lock, read, write, commit" would cost five
 * round trips where the simple-query batches of before cost two. The connections of `@ctp/db`'s
 * pool run in pg's pipeline mode: `run` hands all its statements to the client at once, which
 * writes them back to back (each with its own `Sync`) and reads the answers in order, so a batch
 * is still one round trip: begin + lock + read, then write + commit. Correctness is that of the
 * simple-query batch: PostgreSQL runs the statements one after the other, each with a fresh
 * snapshot under READ COMMITTED, so the read that follows the lock sees what the previous holder
 * committed (`apps/worker/test/sql-session.test.ts`). Folding lock and read into one statement
 * was rejected: a statement that waits for a row lock re-checks only the locked row, the rest of
 * its read keeps its old snapshot. A statement that fails leaves the transaction aborted, so the
 * statements pipelined after it fail too (the commit of an aborted transaction rolls back), and
 * the step rolls back and reports the first error.
 *
 * Errors are converted like the ORM's (e.g. `UniqueConstraintViolationException`), and a failed
 * transaction is rolled back before its connection goes back to the pool. It never runs inside
 * an open ORM transaction: it would be a second, independent transaction on another connection.
 */
export class SqlSession implements StepSession {
  readonly #client: PoolClient;
  #open = false;
  #done = false;
  /** A statement of this transaction may have written outbox rows: wake the relay after the commit. */
  #wakes = false;
  readonly #publisher: CommittedRowsPublisher | undefined;
  /** Outbox rows of this transaction leased to the publisher, handed to it after the commit. */
  readonly #published: OutboxRow[] = [];

  private constructor(client: PoolClient, publisher: CommittedRowsPublisher | undefined) {
    this.#client = client;
    this.#publisher = publisher;
  }

  /**
   * Runs `work` in one transaction; again (from its first statement, on a fresh connection) when
   * a guarded statement fails as a lost race, up to 3 times in all.
   */
  static async transaction<T>(em: EntityManager, work: (session: SqlSession) => Promise<T>): Promise<T> {
    if (em.isInTransaction())
      throw new Error('SqlSession refuses to run inside an open ORM transaction (it would be another one)');
    for (let attempt = 1; ; attempt++) {
      try {
        return await SqlSession.#once(em, work);
      } catch (error) {
        if (!(error instanceof LostRace) || attempt >= LOST_RACE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * One statement on its own (autocommit: it is its own transaction), one round trip. The
   * ORM-transaction rule and the statement checks are those of `transaction`.
   */
  static async runAlone<Row>(em: EntityManager, statement: Statement<Row>): Promise<Row[]> {
    if (em.isInTransaction())
      throw new Error('SqlSession refuses to run inside an open ORM transaction (it would be another one)');
    checkStatement(statement);
    const { pool, client } = await connect(em);
    const publisher = publisherOf(pool);
    try {
      const published: OutboxRow[] = [];
      const [sent] = forPublisher([statement], publisher, published) as [Statement<Row>];
      const [result] = await sendPipelined(client, [sent], { wake: sent.wakesRelay === true });
      if (published.length > 0) publisher?.publishCommitted(published);
      return (result?.rows ?? []) as Row[];
    } catch (error) {
      throw error instanceof pg.DatabaseError
        ? em.getPlatform().getExceptionConverter().convertException(error)
        : error;
    } finally {
      client.release();
    }
  }

  static async #once<T>(em: EntityManager, work: (session: SqlSession) => Promise<T>): Promise<T> {
    const platform = em.getPlatform();
    const { pool, client } = await connect(em);
    const session = new SqlSession(client, publisherOf(pool));
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
  async run<Rows extends unknown[][] = unknown[][]>(
    statements: readonly Statement<unknown>[],
    options: { commit?: boolean } = {},
  ): Promise<Rows> {
    if (this.#done) throw new Error('the transaction is already committed');
    for (const statement of statements) checkStatement(statement);
    const sent = forPublisher(statements, this.#publisher, this.#published);
    const begin = !this.#open;
    const commit = options.commit === true;
    const batch = [...(begin ? [BEGIN] : []), ...sent, ...(commit ? [COMMIT] : [])];
    if (batch.length === 0) return [] as unknown[][] as Rows;
    this.#open = true;
    if (sent.some((s) => s.wakesRelay === true)) this.#wakes = true;
    let results: QueryResult[];
    try {
      results = await sendPipelined(this.#client, batch, { wake: commit && this.#wakes });
    } catch (error) {
      throw lostRaceOr(error);
    }
    if (commit) {
      this.#done = true;
      if (this.#published.length > 0) this.#publisher?.publishCommitted(this.#published);
    }
    return results.slice(begin ? 1 : 0, (begin ? 1 : 0) + statements.length).map((r) => r.rows) as Rows;
  }
}

import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import pg, { type Pool, type PoolClient } from 'pg';
import { DomainError } from '../errors/domain-error.ts';
import type { OutboxRow } from './outbox.ts';
import {
  BEGIN,
  COMMIT,
  canMergeSets,
  checkStatement,
  defineStatement,
  forPublisher,
  type LockTarget,
  mergeSets,
  poolOf,
  publisherOf,
  SqlSession,
  type Statement,
  type StepSession,
  sendPipelined,
} from './sql-session.ts';

/**
 * Group commit for the hot lifecycle steps: the steps that are ready at the same moment share one
 * transaction, so their round trips and their commit are paid once for all of them.
 *
 * Each step is written as before, against a `StepSession`: a round trip of locks and reads, the
 * lifecycle's decision in plain code, then its writes with the commit. Here every step of a group
 * runs its own code, and the group moves them in lockstep: when each step has asked for its next
 * round trip (or finished), the statements of all of them go out together, pipelined on one
 * connection, and each step gets its own rows back. The lifecycle stays the judge of every single
 * operation; only the I/O is shared.
 *
 * - **Locks.** All the entity locks a round trip asks for are taken by one statement, in the order
 *   of the entities' keys (sorted, then locked: `ORDER BY` is applied before `FOR UPDATE`). Two
 *   groups, or a group and a one-step transaction, therefore never wait for each other in a
 *   cycle. A step that locks later than its first round trip is still correct (PostgreSQL breaks
 *   a deadlock by failing one transaction, which is then run again alone, below).
 * - **One step's failure never fails its neighbours.** A step that throws (a refusal decided on
 *   its reads) has written nothing: its writes go out only with its commit, the last thing it
 *   does. If a statement fails (a unique violation, a deadlock, a guarded write that found its
 *   rows moved: `ctp_guard`), the group's transaction is rolled back and each of its steps that
 *   had not ended is run again in a transaction of its own (`SqlSession.transaction`), where it
 *   meets its own error or succeeds. A refusal already decided stays as it was: it read only
 *   committed rows.
 * - **One entity once per group**, when the caller names it (`key`): two requests for the same
 *   entity would read the same state in one transaction; the second waits for the next group.
 *   Steps found through an operation or a trace cannot be keyed before their read; two of them on
 *   one entity in a group are stopped by the guards and the unique indexes and run again alone.
 * - **When a group starts.** Steps queue; a group takes what is queued (up to `MAX_STEPS`) as soon
 *   as one of the `MAX_GROUPS` slots is free, after the current turn of the event loop (so the
 *   requests parsed from one socket read go together). An idle system runs a step at once, alone:
 *   no wait is added; under load the groups grow by themselves while the slots are busy.
 * - **Crash.** A step's caller is answered only after the group's commit: what it was told is
 *   durable. A crash before the commit loses the group's transaction, as it would lose a step's
 *   own, and the callers retry as they always did.
 *
 * A step's code must not wait for anything but its session between two round trips (the group
 * waits for every step), and must send its writes only with `commit: true`.
 */

const MAX_STEPS = 64;
const MAX_GROUPS = 2;
/**
 * Steps that may wait for a group, beyond which a new one is refused at once (`UNAVAILABLE`:
 * the api answers 503 with `Retry-After`, a job retries with its backoff, the batch feeder tries
 * the item on its next run); nothing of it was written. Without a bound, a process that takes
 * work faster than the database commits it holds every waiting request in memory: in a
 * 100,000-item batch the api held some 4,000 webhook deliveries at once (150 MB of live heap,
 * RSS over 300 MB), and each that waited past the SaaS's 10 s was delivered again, adding to the
 * queue it was waiting in. 1,024 steps is eight full groups in each slot.
 */
export const MAX_WAITING_STEPS = 1_024;

interface Step<T> {
  readonly em: EntityManager;
  readonly work: (session: StepSession) => Promise<T>;
  readonly key: string | undefined;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Every entity the steps of a round trip lock, sorted by key, locked in that order.
 *
 * Each key is looked up by its own unique index (a scalar subquery per key: a trace by its id,
 * an operation by its primary key, an entity by `(tenant, entity_id)`), and the entities are
 * then locked by primary key, so the plan is the same whatever the tables hold and however many
 * keys come. It runs with a generic plan (`GENERIC_PLANS`): with the keys as constants
 * PostgreSQL found a custom plan cheaper (it drops the empty `unnest`s) and planned the
 * statement anew on every call, 0.34 ms of PostgreSQL per operation (`pg_stat_statements` with
 * `track_planning`, 3,000 operations; 0.6–0.9 ms of backend CPU a call against 0.2–0.5 ms
 * generic: BENCHMARKS.md, seventh session). Its earlier form, joins of the key sets with the
 * tables, was planned generically as hash joins over sequential scans of `business_entity`
 * (`apps/worker/test/lock-entities-plan.test.ts`).
 */
export const lockEntitiesStatement = defineStatement<{
  tenants: string[];
  entity_ids: string[];
  operation_ids: string[];
  trace_tenants: string[];
  trace_ids: string[];
}>(
  'ctp_lock_entities',
  `select e.pkey from business_entity e
    where e.pkey = any(array(
      select (select b.pkey from business_entity b
               where b.tenant = k.tenant and b.entity_id = k.entity_id)
        from unnest($tenants::text[], $entity_ids::text[]) as k(tenant, entity_id)
      union all
      select (select b.pkey from business_entity b
               where b.tenant = o.tenant and b.entity_id = o.entity_id)
        from ctp_operation o
       where o.id = any($operation_ids::uuid[])
      union all
      select (select b.pkey from "ctp_requestIdTracking" t
                join business_entity b on b.tenant = t.tenant and b.entity_id = t.entity_id
               where t."request_trace_ID" = k.trace_id and t.tenant = k.tenant)
        from unnest($trace_tenants::text[], $trace_ids::text[]) as k(tenant, trace_id)))
    order by e.pkey
    for update`,
);

/**
 * Around the lock, in the same round trip: its generic plan is forced, and the setting is put
 * back right after it, so the rest of the transaction plans as it always did.
 */
export const GENERIC_PLANS = defineStatement<Record<string, never>>(
  'ctp_generic_plans',
  'set local plan_cache_mode = force_generic_plan',
);
export const DEFAULT_PLANS = defineStatement<Record<string, never>>(
  'ctp_default_plans',
  'set local plan_cache_mode to default',
);

function lockAll(targets: readonly LockTarget[]): Statement {
  const params = { tenants: [], entity_ids: [], operation_ids: [], trace_tenants: [], trace_ids: [] } as {
    [K in 'tenants' | 'entity_ids' | 'operation_ids' | 'trace_tenants' | 'trace_ids']: string[];
  };
  for (const target of targets) {
    if ('entityId' in target) {
      params.tenants.push(target.tenant);
      params.entity_ids.push(target.entityId);
    } else if ('operationId' in target) {
      params.operation_ids.push(target.operationId);
    } else {
      params.trace_tenants.push(target.tenant);
      params.trace_ids.push(target.requestTraceId);
    }
  }
  return lockEntitiesStatement(params);
}

/** The group's transaction was rolled back; the step is run again alone. */
class GroupAborted extends Error {
  override readonly name = 'GroupAborted';
}

interface Ask {
  readonly statements: readonly Statement<unknown>[];
  readonly commit: boolean;
  readonly resolve: (rows: unknown[][]) => void;
  readonly reject: (error: unknown) => void;
}

/** One step inside a group: its own code, driven one round trip at a time. */
class Member {
  state: 'running' | 'asking' | 'awaiting-commit' | 'returned' | 'threw' = 'running';
  ask: Ask | null = null;
  rows: unknown[][] = [];
  result: unknown;
  error: unknown;
  committed = false;
  abandoned = false;
  #signal: () => void = () => undefined;
  /** Settles when the step has asked for its next round trip, or ended. */
  turn: Promise<void>;

  readonly step: Step<unknown>;

  constructor(step: Step<unknown>) {
    this.step = step;
    this.turn = this.#nextTurn();
  }

  #nextTurn(): Promise<void> {
    return new Promise((resolve) => {
      this.#signal = resolve;
    });
  }

  start(): void {
    const session: StepSession = {
      run: <Rows extends unknown[][]>(
        statements: readonly Statement<unknown>[],
        options?: { commit?: boolean },
      ) =>
        new Promise<Rows>((resolve, reject) => {
          if (this.abandoned) throw new GroupAborted('the shared transaction was rolled back');
          if (this.committed) throw new Error('the transaction is already committed');
          for (const statement of statements) checkStatement(statement);
          this.ask = {
            statements,
            commit: options?.commit === true,
            resolve: resolve as (rows: unknown[][]) => void,
            reject,
          };
          this.state = 'asking';
          this.#signal();
        }),
    };
    this.step.work(session).then(
      (result) => {
        this.result = result;
        this.state = 'returned';
        this.#signal();
      },
      (error: unknown) => {
        this.error = error;
        this.state = 'threw';
        this.#signal();
      },
    );
  }

  /** Hands the step its rows; it runs on to its next round trip. */
  answer(rows: unknown[][]): void {
    const ask = this.ask;
    this.ask = null;
    this.state = 'running';
    this.turn = this.#nextTurn();
    ask?.resolve(rows);
  }

  /** The group is rolled back: the step's pending round trip fails, and the step is abandoned. */
  abandon(): void {
    this.abandoned = true;
    this.ask?.reject(new GroupAborted('the shared transaction was rolled back'));
    this.ask = null;
  }
}

class GroupCommitter {
  readonly #pool: Pool;
  readonly #queue: Step<unknown>[] = [];
  #running = 0;
  #scheduled = false;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  enqueue<T>(step: Step<T>): void {
    if (this.#queue.length >= MAX_WAITING_STEPS) {
      step.reject(
        new DomainError('UNAVAILABLE', 'too many steps are waiting for the database; nothing was done'),
      );
      return;
    }
    this.#queue.push(step as Step<unknown>);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < MAX_GROUPS && this.#queue.length > 0) {
      const group = this.#take();
      this.#running += 1;
      void this.#runGroup(group).finally(() => {
        this.#running -= 1;
        if (this.#queue.length > 0) this.#schedule();
      });
    }
  }

  /** Up to `MAX_STEPS` queued steps, in order, one per keyed entity; the rest stay queued. */
  #take(): Step<unknown>[] {
    const group: Step<unknown>[] = [];
    const keys = new Set<string>();
    const left: Step<unknown>[] = [];
    for (const step of this.#queue) {
      if (group.length >= MAX_STEPS || (step.key !== undefined && keys.has(step.key))) {
        left.push(step);
        continue;
      }
      if (step.key !== undefined) keys.add(step.key);
      group.push(step);
    }
    this.#queue.splice(0, this.#queue.length, ...left);
    return group;
  }

  async #runGroup(steps: readonly Step<unknown>[]): Promise<void> {
    if (steps.length === 1) {
      // Nothing to share: the step's own transaction, with its own retries.
      const [step] = steps as [Step<unknown>];
      await SqlSession.transaction(step.em, step.work).then(step.resolve, step.reject);
      return;
    }
    const members = steps.map((step) => new Member(step));
    let client: PoolClient | undefined;
    let open = false;
    // A statement of the group may have written outbox rows: the relay is woken after the commit.
    let wakes = false;
    // Outbox rows of the open transaction leased to this process's publisher (`forPublisher`).
    const publisher = publisherOf(this.#pool);
    let published: OutboxRow[] = [];
    const committed = () => {
      if (published.length > 0) publisher?.publishCommitted(published);
      published = [];
      wakes = false;
    };
    try {
      client = await this.#pool.connect();
      for (const member of members) member.start();
      for (;;) {
        await Promise.all(members.map((member) => member.turn));
        const asking = members.filter((member) => member.state === 'asking');
        if (asking.length === 0) {
          // Every step has returned, thrown, or asked for its commit: the group commits.
          if (open) {
            await sendPipelined(client, [COMMIT], { wake: wakes });
            committed();
          }
          open = false;
          const waiting = members.filter((member) => member.state === 'awaiting-commit');
          for (const member of members) member.committed = true;
          if (waiting.length === 0) break;
          for (const member of waiting) member.answer(member.rows);
          continue;
        }
        const commit = asking.every((member) => member.ask?.commit === true);
        const opening = !open;
        // Open from the moment `begin` is sent: if the round trip fails, the catch rolls back.
        open = true;
        const sent = asking.map((member) => forPublisher(member.ask?.statements ?? [], publisher, published));
        if (sent.some((statements) => statements.some((s) => s.wakesRelay === true))) wakes = true;
        await this.#roundTrip(client, asking, sent, opening, commit, commit && wakes);
        open = !commit;
        if (commit) {
          committed();
          for (const member of members) member.committed = true;
          for (const member of members) {
            if (member.state === 'asking' || member.state === 'awaiting-commit') member.answer(member.rows);
          }
        }
      }
    } catch {
      let broken: Error | undefined;
      if (open && client !== undefined) {
        await client.query('rollback').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
      }
      client?.release(broken);
      client = undefined;
      await this.#runAlone(members);
      return;
    } finally {
      client?.release();
    }
    for (const member of members) {
      if (member.state === 'returned') member.step.resolve(member.result);
      else member.step.reject(member.error);
    }
  }

  /**
   * One round trip for the asking steps: `begin` if the transaction is not open, one statement
   * for all their locks, their other statements in order, and `commit` when every one asks for
   * it. A step that asks for its commit while others go on waits for the group's commit.
   *
   * Statements of a `sets` definition go as one (`mergeSets`): the first step's carries the rows
   * of every later step's, when that is the later step's first statement of the round trip (so
   * none of its own statements is moved behind its writes). Each step gets that statement's rows
   * as its own. If the merged statement fails, the group is rolled back and each step runs again
   * alone, as after any failed statement.
   */
  async #roundTrip(
    client: PoolClient,
    asking: readonly Member[],
    /** Each asking step's statements as sent (`forPublisher`). */
    sent: readonly (readonly Statement<unknown>[])[],
    opening: boolean,
    commit: boolean,
    wake: boolean,
  ) {
    const locks: LockTarget[] = [];
    const own: Statement<unknown>[] = [];
    const merged = new Map<string, number>();
    // The statements merged into `own[at]`, the first included, joined once below (`mergeSets`).
    const parts = new Map<number, [Statement<unknown>, ...Statement<unknown>[]]>();
    // Per step, per statement: its index in `own` (-1: a lock, answered by the one lock statement).
    const places = asking.map((_, m) => {
      const indexes: number[] = [];
      for (const statement of sent[m] ?? []) {
        if (statement.lock !== undefined) {
          locks.push(statement.lock);
          indexes.push(-1);
          continue;
        }
        const at = merged.get(statement.name);
        const into = at === undefined ? undefined : own[at];
        // Merged only as the step's first statement here, so none of its own moves behind it.
        const firstOfStep = indexes.every((i) => i < 0);
        if (at !== undefined && into !== undefined && firstOfStep && canMergeSets(into, statement)) {
          const list = parts.get(at);
          if (list === undefined) parts.set(at, [into, statement]);
          else list.push(statement);
          indexes.push(at);
          continue;
        }
        if (statement.sets === true && at === undefined) merged.set(statement.name, own.length);
        indexes.push(own.length);
        own.push(statement);
      }
      return indexes;
    });
    for (const [at, statements] of parts) own[at] = mergeSets(statements);
    const batch = [
      ...(opening ? [BEGIN] : []),
      ...(locks.length === 0 ? [] : [GENERIC_PLANS({}), lockAll(locks), DEFAULT_PLANS({})]),
      ...own,
      ...(commit ? [COMMIT] : []),
    ];
    const results = (await sendPipelined(client, batch, { wake })).map((result) => result.rows);
    const first = (opening ? 1 : 0) + (locks.length === 0 ? 0 : 3);
    // Each step's rows in the order it sent its statements (a lock's rows are not kept: the one
    // locking statement answered for all).
    asking.forEach((member, m) => {
      const rows = (places[m] ?? []).map((index) => (index < 0 ? [] : (results[first + index] ?? [])));
      if (commit || member.ask?.commit === true) {
        member.rows = rows;
        if (!commit) member.state = 'awaiting-commit';
      } else {
        member.answer(rows);
      }
    });
  }

  /** After a rolled-back group: every step that had not ended runs again, alone. */
  async #runAlone(members: readonly Member[]): Promise<void> {
    await Promise.all(
      members.map(async (member) => {
        if (member.state === 'threw' && !(member.error instanceof GroupAborted)) {
          member.step.reject(member.error);
          return;
        }
        member.abandon();
        const { em, work, resolve, reject } = member.step;
        await SqlSession.transaction(em, work).then(resolve, reject);
      }),
    );
  }
}

const committers = new WeakMap<Pool, GroupCommitter>();

/**
 * Runs a lifecycle step in a transaction it may share with the other steps ready at the same
 * moment (see above); `key` names the step's entity when the caller knows it. Resolves once the
 * transaction committed, with the step's result; rejects with the step's own error.
 */
export async function sharedTransaction<T>(
  em: EntityManager,
  work: (session: StepSession) => Promise<T>,
  key?: string,
): Promise<T> {
  if (em.isInTransaction())
    throw new Error(
      'a shared transaction cannot run inside an open ORM transaction (it would be another one)',
    );
  const pool = await poolOf(em);
  let committer = committers.get(pool);
  if (committer === undefined) {
    committer = new GroupCommitter(pool);
    committers.set(pool, committer);
  }
  const queued = committer;
  return new Promise<T>((resolve, reject) => {
    queued.enqueue({ em, work, key, resolve, reject });
  }).catch((error: unknown) => {
    throw error instanceof pg.DatabaseError
      ? em.getPlatform().getExceptionConverter().convertException(error)
      : error;
  });
}

/** One statement in a shared transaction: what `SqlSession.runAlone` does alone. */
export async function sharedStatement<Row>(em: EntityManager, statement: Statement<Row>): Promise<Row[]> {
  const [rows] = await sharedTransaction(em, (session) => session.run([statement], { commit: true }));
  return (rows ?? []) as Row[];
}

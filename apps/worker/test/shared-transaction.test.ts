import { DomainError } from '@ctp/core/errors';
import {
  lockEntity,
  MAX_WAITING_STEPS,
  processWebhook,
  recordAccepted,
  recordWebhook,
  requestOperation,
  resolveTraceOutcome,
  sharedTransaction,
} from '@ctp/core/operations';
import { createOrm, type Orm, sqlPool } from '@ctp/db';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from './fixtures.ts';

/**
 * Group commit (`sharedTransaction`): steps that are ready together share one transaction, and
 * a step that fails does not fail its neighbours.
 */

let db: TestDatabase;
let orm: Orm;
const T = 'ENBDSHARE';

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await createOrm({ databaseUrl: db.databaseUrl });
});
afterAll(async () => {
  await orm.close();
  await db.drop();
});

/** Transactions ended on the pool's connections (every `ReadyForQuery` reporting idle). */
function countTransactions(pool: pg.Pool): () => number {
  let ended = 0;
  const seen = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (seen.has(client)) return;
    seen.add(client);
    (client as unknown as { connection: NodeJS.EventEmitter }).connection.on(
      'readyForQuery',
      (message: { status: string }) => {
        if (message.status === 'I') ended += 1;
      },
    );
  });
  return () => ended;
}

/** Counts the executions of the named prepared statement on every client until `stop`. */
function countStatements(name: string): { stop: () => number } {
  const query = pg.Client.prototype.query;
  let n = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as { name?: string } | undefined;
    if (typeof config === 'object' && config?.name === name) n += 1;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  return {
    stop: () => {
      pg.Client.prototype.query = query;
      return n;
    },
  };
}

const completed = (i: number, prefix: string) => ({
  type: 'request.completed' as const,
  tenant: T,
  data: {
    requestTraceId: `${prefix}-trace-${i}`,
    event: 'CTP_REGISTER_ENTITY_AND_KIT' as const,
    status: 'SUCCESS' as const,
    externalConsumerId: `${prefix}-${i}`,
    externalInstrumentId: `${prefix}-${i}-k`,
    updatedAt: new Date().toISOString(),
    clickToPayCustomerId: `${prefix}-customer-${i}`,
    clickToPayPaymentInstrumentId: `${prefix}-instrument-${i}`,
  },
});

describe('steps ready together share one transaction', () => {
  it('30 operations from request to resolved trace, each step run for all at once: a commit or two per step', async () => {
    const N = 30;
    for (let i = 0; i < N; i++) await seedEntity(orm, T, `g-${i}`, [`g-${i}-k`]);
    const countingOrm = await createOrm({ databaseUrl: db.databaseUrl });
    const transactions = countTransactions(await sqlPool(countingOrm));
    const em = () => countingOrm.em.fork();
    const ids = [...Array(N).keys()];

    const requested = await Promise.all(
      ids.map((i) =>
        requestOperation(em(), {
          tenant: T,
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId: `g-${i}`,
          kitNo: `g-${i}-k`,
        }),
      ),
    );
    const accepted = await Promise.all(
      requested.map(({ operation }, i) =>
        recordAccepted(em(), {
          operationId: operation.id,
          requestTraceId: `g-trace-${i}`,
          firstPollAfterMs: 60_000,
        }),
      ),
    );
    expect(accepted).toEqual(ids.map(() => 'recorded'));
    const taken = await Promise.all(
      ids.map((i) => recordWebhook(em(), { webhookId: `g-webhook-${i}`, body: completed(i, 'g') })),
    );
    expect(taken).toEqual(ids.map(() => true));
    const processed = await Promise.all(ids.map((i) => processWebhook(em(), `g-webhook-${i}`)));
    expect(processed).toEqual(ids.map(() => 'processed'));
    const perOperation = transactions() / N;
    await countingOrm.close();

    // Four steps and the inbox read: one transaction per step for each group (two groups may run
    // at once), against five per operation when each step had its own.
    expect(perOperation).toBeLessThanOrEqual(0.5);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<{ status: string }[]>(
        `select status from ctp_operation where tenant = ? and entity_id like 'g-%'`,
        [T],
      );
    expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'SUCCESS'));
  });

  it("the writes of requests in one group go as one statement, each step's rows to its own entity", async () => {
    const N = 24;
    for (let i = 0; i < N; i++) await seedEntity(orm, T, `m-${i}`, [`m-${i}-k`, `m-${i}-k2`]);
    const sent = countStatements('ctp_step_writes_unguarded');
    const requested = await Promise.all(
      [...Array(N).keys()].map((i) =>
        requestOperation(orm.em.fork(), {
          tenant: T,
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId: `m-${i}`,
          kitNo: `m-${i}-k`,
        }),
      ),
    );
    const statements = sent.stop();
    // At most two groups run at once; the first request may go alone before the others queue.
    expect(statements).toBeLessThanOrEqual(4);
    expect(requested).toHaveLength(N);
    // Every new payment belongs to the new customer of its own entity, every operation and its
    // history rows to theirs.
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<
        { entity_id: string; customer_entity: string; kit_no: string; kit_entity: string; history: number }[]
      >(
        `select e.entity_id, c.entity_id as customer_entity, k.kit_no, ke.entity_id as kit_entity,
                (select count(*)::int from ctp_status_history h
                  where h.tenant = o.tenant and h.entity_id = o.entity_id and h.operation_id = o.id) as history
           from ctp_operation o
           join business_entity e on e.tenant = o.tenant and e.entity_id = o.entity_id
           join ctp_customer c on c.business_entity_fkey = e.pkey
           join ctp_payment p on p.ctcustomer_pkey = c.pkey
           join kit k on k.pkey = p.kit_pkey
           join business_entity ke on ke.pkey = k.business_entity_fkey
          where o.tenant = ? and o.entity_id like 'm-%'`,
        [T],
      );
    expect(rows).toHaveLength(N);
    for (const row of rows) {
      expect(row.customer_entity).toBe(row.entity_id);
      expect(row.kit_entity).toBe(row.entity_id);
      expect(row.kit_no).toBe(`${row.entity_id}-k`);
      expect(row.history).toBe(2);
    }
  });

  it("a group's 202s and resolves go as one statement each, and each step gets its own outcome", async () => {
    const N = 24;
    const ids = [...Array(N).keys()];
    for (const i of ids) await seedEntity(orm, T, `s-${i}`, [`s-${i}-k`]);
    const requested = await Promise.all(
      ids.map((i) =>
        requestOperation(orm.em.fork(), {
          tenant: T,
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId: `s-${i}`,
          kitNo: `s-${i}-k`,
        }),
      ),
    );
    const accept = (i: number, trace: string) =>
      recordAccepted(orm.em.fork(), {
        operationId: requested[i]?.operation.id ?? '',
        requestTraceId: trace,
        firstPollAfterMs: 60_000,
      });
    const recordings = countStatements('ctp_record_accepted');
    expect(await Promise.all(ids.map((i) => accept(i, `s-trace-${i}`)))).toEqual(ids.map(() => 'recorded'));
    // Again, in one group: the same trace is already recorded; another trace finds it moved on.
    expect(
      await Promise.all(ids.map((i) => accept(i, i % 2 === 0 ? `s-trace-${i}` : `s-other-${i}`))),
    ).toEqual(ids.map((i) => (i % 2 === 0 ? 'already-recorded' : 'not-queued')));
    // At most two groups at once, and the first step of a burst may go alone.
    expect(recordings.stop()).toBeLessThanOrEqual(8);

    const resolves = countStatements('ctp_step_writes');
    const resolved = await Promise.all(
      ids.map((i) =>
        resolveTraceOutcome(orm.em.fork(), T, {
          requestTraceId: `s-trace-${i}`,
          status: i % 3 === 0 ? 'FAILED' : 'SUCCESS',
          clickToPayCustomerId: `s-customer-${i}`,
          clickToPayPaymentInstrumentId: `s-instrument-${i}`,
          ...(i % 3 === 0 ? { error: { code: 'E1', message: `refused ${i}` } } : {}),
        }),
      ),
    );
    expect(resolved).toEqual(ids.map(() => 'resolved'));
    expect(resolves.stop()).toBeLessThanOrEqual(4);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<
        {
          entity_id: string;
          status: string;
          error_message: string | null;
          trace: string;
          trace_status: string;
          customer: string | null;
          notifications: number;
        }[]
      >(
        `select o.entity_id, o.status, o.error_message, t."request_trace_ID" as trace, t.status_ctp as trace_status,
                c."clickToPayCustomerId" as customer,
                (select count(*)::int from ctp_outbox x where x.operation_id = o.id and x.kind = 'notification') as notifications
           from ctp_operation o
           join "ctp_requestIdTracking" t on t.operation_id = o.id
           join business_entity e on e.tenant = o.tenant and e.entity_id = o.entity_id
           join ctp_customer c on c.business_entity_fkey = e.pkey
          where o.tenant = ? and o.entity_id like 's-%' order by o.entity_id`,
        [T],
      );
    expect(rows).toHaveLength(N);
    for (const row of rows) {
      const i = Number(row.entity_id.slice(2));
      const failed = i % 3 === 0;
      expect(row).toMatchObject({
        status: failed ? 'FAILED' : 'SUCCESS',
        error_message: failed ? `refused ${i}` : null,
        trace: `s-trace-${i}`,
        trace_status: failed ? 'FAILED' : 'SUCCESS',
        customer: failed ? null : `s-customer-${i}`,
        notifications: 1,
      });
    }
  });

  it('one trace resolved twice in one group (webhook and poller): once, and the rest of the group as well', async () => {
    const N = 16;
    const ids = [...Array(N).keys()];
    for (const i of ids) await seedEntity(orm, T, `t-${i}`, [`t-${i}-k`]);
    for (const i of ids) {
      const { operation } = await requestOperation(orm.em.fork(), {
        tenant: T,
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        entityId: `t-${i}`,
        kitNo: `t-${i}-k`,
      });
      await recordAccepted(orm.em.fork(), {
        operationId: operation.id,
        requestTraceId: `t-trace-${i}`,
        firstPollAfterMs: 60_000,
      });
    }
    const outcome = (i: number) => ({
      requestTraceId: `t-trace-${i}`,
      status: 'SUCCESS' as const,
      clickToPayCustomerId: `t-customer-${i}`,
      clickToPayPaymentInstrumentId: `t-instrument-${i}`,
    });
    // Trace 0 and trace 5 are each resolved by two steps of the same group: their guards find one
    // row for two entries of the set, the group is rolled back and every step runs again alone.
    const twice = [0, 5];
    const results = await Promise.all(
      [...ids, ...twice].map((i) => resolveTraceOutcome(orm.em.fork(), T, outcome(i))),
    );
    expect(results.slice(0, N)).toHaveLength(N);
    for (const i of twice)
      expect([results[i], results[N + twice.indexOf(i)]].sort()).toEqual(['already-terminal', 'resolved']);
    expect(results.filter((r) => r === 'resolved')).toHaveLength(N);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<{ status: string; notifications: number; terminal_history: number }[]>(
        `select o.status,
                (select count(*)::int from ctp_outbox x where x.operation_id = o.id and x.kind = 'notification') as notifications,
                (select count(*)::int from ctp_status_history h
                  where h.operation_id = o.id and h.record = 'trace' and h.to_status = 'SUCCESS') as terminal_history
           from ctp_operation o where o.tenant = ? and o.entity_id like 't-%'`,
        [T],
      );
    expect(rows).toHaveLength(N);
    expect(
      rows.every((r) => r.status === 'SUCCESS' && r.notifications === 1 && r.terminal_history === 1),
    ).toBe(true);
  });

  it('one 202 recorded by two jobs in one group: one records it, the other finds it recorded', async () => {
    await seedEntity(orm, T, 'twice', ['twice-k']);
    const { operation } = await requestOperation(orm.em.fork(), {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'twice',
      kitNo: 'twice-k',
    });
    const input = { operationId: operation.id, requestTraceId: 'twice-trace', firstPollAfterMs: 60_000 };
    const results = await Promise.all([1, 2, 3].map(() => recordAccepted(orm.em.fork(), input)));
    expect(results.sort()).toEqual(['already-recorded', 'already-recorded', 'recorded']);
    const [row] = await orm.em
      .fork()
      .getConnection()
      .execute<{ traces: number; history: number }[]>(
        `select (select count(*)::int from "ctp_requestIdTracking" where operation_id = ?) as traces,
                (select count(*)::int from ctp_status_history where operation_id = ? and record = 'trace') as history`,
        [operation.id, operation.id],
      );
    expect(row).toEqual({ traces: 1, history: 1 });
  });

  it('a refusal and a failing statement in the group fail only their own step', async () => {
    for (let i = 0; i < 6; i++) await seedEntity(orm, T, `f-${i}`, [`f-${i}-k`]);
    const requests = [
      ...[0, 1, 2].map((i) => ({ entityId: `f-${i}`, kitNo: `f-${i}-k` })),
      { entityId: 'f-missing', kitNo: 'f-missing-k' },
      { entityId: 'f-3', kitNo: 'f-no-such-kit' },
      ...[4, 5].map((i) => ({ entityId: `f-${i}`, kitNo: `f-${i}-k` })),
    ];
    const results = await Promise.allSettled([
      ...requests.map((r) =>
        requestOperation(orm.em.fork(), { tenant: T, event: 'CTP_REGISTER_ENTITY_AND_KIT', ...r }),
      ),
      // Not a uuid: the group's lock statement fails on it, the group is rolled back and each
      // step runs again alone.
      recordAccepted(orm.em.fork(), { operationId: 'not-a-uuid', requestTraceId: 'x', firstPollAfterMs: 1 }),
    ]);
    const outcome = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : r.reason instanceof DomainError ? r.reason.code : `error ${r.reason}`,
    );
    expect(outcome.slice(0, -1)).toEqual(['ok', 'ok', 'ok', 'NOT_FOUND', 'NOT_FOUND', 'ok', 'ok']);
    expect(outcome.at(-1)).toMatch(/invalid input syntax for type uuid/);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute<{ entity_id: string }[]>(
        `select entity_id from ctp_operation where tenant = ? and entity_id like 'f-%' order by entity_id`,
        [T],
      );
    expect(rows.map((r) => r.entity_id)).toEqual(['f-0', 'f-1', 'f-2', 'f-4', 'f-5']);
  });

  it('two requests for one entity never share a group: one starts, the other finds it in flight', async () => {
    await seedEntity(orm, T, 'same', ['same-k']);
    const results = await Promise.allSettled(
      [1, 2].map(() =>
        requestOperation(orm.em.fork(), {
          tenant: T,
          event: 'CTP_REGISTER_ENTITY_AND_KIT',
          entityId: 'same',
          kitNo: 'same-k',
        }),
      ),
    );
    const codes = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : r.reason instanceof DomainError ? r.reason.code : String(r.reason),
    );
    expect(codes.sort()).toEqual(['OPERATION_IN_PROGRESS', 'ok']);
  });

  it('groups locking the same entities in opposite orders take the locks in one order: no deadlock', async () => {
    const N = 12;
    for (let i = 0; i < N; i++) await seedEntity(orm, T, `d-${i}`, []);
    const [first, second] = [
      await createOrm({ databaseUrl: db.databaseUrl }),
      await createOrm({ databaseUrl: db.databaseUrl }),
    ];
    // A deadlock fails one group's transaction, and its steps run again alone: each run of a
    // step's code is counted.
    let runs = 0;
    // Each step locks two entities; one pool's steps walk the entities up, the other's down.
    const step = (o: Orm, a: number, b: number) =>
      sharedTransaction(o.em.fork(), async (session) => {
        runs += 1;
        await session.run([lockEntity(T, `d-${a}`), lockEntity(T, `d-${b}`)]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await session.run([], { commit: true });
        return 'done';
      });
    for (let round = 0; round < 5; round++) {
      const up = [...Array(N - 1).keys()].map((i) => step(first, i, i + 1));
      const down = [...Array(N - 1).keys()].map((i) => step(second, N - 1 - i, N - 2 - i));
      expect(await Promise.all([...up, ...down])).toEqual([...up, ...down].map(() => 'done'));
    }
    await first.close();
    await second.close();
    expect(runs).toBe(5 * 2 * (N - 1));
  });

  it('refuses a step at once (UNAVAILABLE) while MAX_WAITING_STEPS wait; the waiting ones finish', async () => {
    await seedEntity(orm, T, 'busy', []);
    const pool = await sqlPool(orm);
    // Another transaction holds the entity: the running groups wait for it, the rest queue.
    const holder = await pool.connect();
    await holder.query('begin');
    await holder.query('select 1 from business_entity where tenant = $1 and entity_id = $2 for update', [
      T,
      'busy',
    ]);
    const extra = 25;
    const steps = Array.from({ length: MAX_WAITING_STEPS + extra }, () =>
      sharedTransaction(orm.em.fork(), async (session) => {
        await session.run([lockEntity(T, 'busy')], { commit: true });
        return 'done';
      }),
    );
    const refused = steps.slice(MAX_WAITING_STEPS);
    for (const step of refused) await expect(step).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await holder.query('commit');
    holder.release();
    expect(await Promise.all(steps.slice(0, MAX_WAITING_STEPS))).toEqual(
      Array.from({ length: MAX_WAITING_STEPS }, () => 'done'),
    );
    // The queue is open again.
    expect(
      await sharedTransaction(orm.em.fork(), (session) =>
        session.run([lockEntity(T, 'busy')], { commit: true }),
      ),
    ).toHaveLength(1);
  });
});

import type { Logger } from '@ctp/core/logging';
import type { ResolvedTrace } from '@ctp/core/metrics';
import type { NotificationPublisher } from '@ctp/core/notifications';
import { OUTBOX_CHANNEL, SqlSession, sql } from '@ctp/core/operations';
import { JOB_TOPICS, JOBS, type JobKind, type QueueName } from '@ctp/core/queues';
import type { Orm } from '@ctp/db';
import type { Queue } from 'bullmq';
import pg from 'pg';

/** An outbox row the relay claimed, with the trace its notification announces. */
interface ClaimedRow {
  id: string;
  kind: 'job' | 'notification';
  topic: string;
  payload: Record<string, string>;
  /** The resolved trace an outcome notification announces (null for other rows). */
  trace_event: string | null;
  trace_status: string | null;
  trace_created_at: Date | null;
  trace_resolved_at: Date | null;
}

export interface RelayDependencies {
  readonly orm: Orm;
  readonly databaseUrl: string;
  readonly queues: Readonly<Record<QueueName, Queue>>;
  readonly publisher: NotificationPublisher;
  readonly logger: Logger;
  readonly batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (a lost connection, a missed wake-up). */
  readonly pollIntervalMs?: number;
  /** Deadline of one batch's Redis calls (default 5 s). */
  readonly redisTimeoutMs?: number;
  /**
   * How long a claim keeps other relays off the rows (default 15 s, at least twice the deadline):
   * the rows of a relay that died wait this long.
   */
  readonly claimLeaseMs?: number;
  /**
   * Called per resolved trace, after its outcome notification is published (metrics). The relay
   * sees every outcome whichever path resolved it (webhook, poller, deadline, operator), once:
   * a claimed row is published by one worker, unless its lease ran out first (a crash, a publish
   * slower than the lease), when it may be counted again.
   */
  readonly onTraceResolved?: (trace: ResolvedTrace) => void;
}

const JOB_BY_TOPIC = new Map<string, JobKind>(
  Object.entries(JOB_TOPICS).map(([kind, topic]) => [topic, kind as JobKind]),
);

/** Rejects with `what` after `ms` unless `work` settled first. */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within the ${ms} ms deadline`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Moves committed outbox rows to where they go: jobs to BullMQ (job id = the row's key, so a
 * re-relay of a live job is a no-op) and notifications to the stream. Per batch, three steps, and
 * no PostgreSQL transaction is open while Redis is called:
 *
 * 1. claim: one statement takes a lease on the next due rows (`claimed_until`), skipping rows
 *    another relay holds (`FOR UPDATE SKIP LOCKED`, and unexpired leases), and commits;
 * 2. publish them to Redis, under a deadline (a Redis that stops answering fails the batch in
 *    seconds; commands already sent may still land, which the ids make harmless);
 * 3. mark them published (and end the lease).
 *
 * A failed publish gives the lease back at once; a relay that dies after its claim leaves the
 * lease to expire and the rows are published again — at-least-once, made exactly-once by the
 * job ids and the notification ids.
 */
export class OutboxRelay {
  readonly #deps: RelayDependencies;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #redisTimeoutMs: number;
  readonly #claimLeaseMs: number;
  #listener: pg.Client | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #pendingWake = false;
  #loop: Promise<void> | null = null;

  constructor(deps: RelayDependencies) {
    this.#deps = deps;
    this.#batchSize = deps.batchSize ?? 500;
    this.#pollIntervalMs = deps.pollIntervalMs ?? 1_000;
    this.#redisTimeoutMs = deps.redisTimeoutMs ?? 5_000;
    this.#claimLeaseMs = deps.claimLeaseMs ?? 15_000;
    // A lease shorter than a publish may take would let a second relay publish the same rows
    // while the first still waits for Redis: harmless, but wasted work on every slow call.
    if (this.#claimLeaseMs < 2 * this.#redisTimeoutMs) {
      throw new Error("the outbox claim lease must be at least twice the relay's Redis deadline");
    }
  }

  async start(): Promise<void> {
    await this.#listen();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeUp();
    await this.#loop;
    await this.#listener?.end().catch(() => undefined);
  }

  /**
   * Publishes one batch; returns how many rows it moved. The claim and the mark are each one
   * round trip (`begin; ...; commit`), committed asynchronously (`synchronous_commit = off`): if
   * PostgreSQL itself crashes in the next fraction of a second a claim or a mark may be lost, and
   * the rows are published again — harmless, as for any re-relay.
   */
  async relayOnce(): Promise<number> {
    const rows = await this.#claim();
    if (rows.length === 0) return 0;
    try {
      await withDeadline(this.#publish(rows), this.#redisTimeoutMs, 'Redis (outbox relay)');
    } catch (error) {
      // Give the lease back so the next attempt (after the loop's backoff) can take the rows.
      await this.#release(rows).catch(() => undefined);
      throw error;
    }
    await this.#mark(rows);
    this.#observeResolutions(rows);
    return rows.length;
  }

  async #claim(): Promise<ClaimedRow[]> {
    const [, , claimed] = await SqlSession.transaction(this.#deps.orm.em, (session) =>
      session.run(
        [
          sql('set local synchronous_commit = off'),
          // A published row's entry stays in `idx_ctp_outbox_unpublished`, dead, until a VACUUM.
          // The planner likes a bitmap scan here, which reads every such entry and its table
          // page on every claim and never marks them: the claim grew with the rows published
          // since the last VACUUM (37 ms at 20,000 entries, on every wake-up). An index scan in
          // id order marks the dead entries it meets, so later claims skip them in the index.
          sql('set local enable_bitmapscan = off'),
          sql(
            `with claimed as (
               select id from ctp_outbox
                where published_at is null and available_at <= now()
                  and (claimed_until is null or claimed_until <= now())
                order by id limit ? for update skip locked),
             leased as (
               update ctp_outbox o set claimed_until = now() + ? * interval '1 millisecond'
                 from claimed where o.id = claimed.id
               returning o.id, o.kind, o.topic, o.payload, o.operation_id)
             select l.id, l.kind, l.topic, l.payload, t.event as trace_event, t.status_ctp as trace_status,
                    t.created_at as trace_created_at, t.resolved_at as trace_resolved_at
               from leased l
               left join "ctp_requestIdTracking" t on l.kind = 'notification' and t.operation_id = l.operation_id
              order by l.id`,
            [this.#batchSize, this.#claimLeaseMs],
          ),
        ],
        { commit: true },
      ),
    );
    return (claimed ?? []) as ClaimedRow[];
  }

  async #publish(rows: readonly ClaimedRow[]): Promise<void> {
    await this.#publishJobs(rows.filter((row) => row.kind === 'job'));
    await this.#deps.publisher.publish(
      rows
        .filter((row) => row.kind === 'notification')
        .map((row) => ({
          notificationId: String(row.payload.notificationId),
          payload: String(row.payload.payload),
        })),
    );
  }

  async #mark(rows: readonly ClaimedRow[]): Promise<void> {
    await SqlSession.transaction(this.#deps.orm.em, (session) =>
      session.run(
        [
          sql('set local synchronous_commit = off'),
          sql(
            `update ctp_outbox set published_at = now(), claimed_until = null
              where id = any(string_to_array(?, ',')::bigint[]) and published_at is null`,
            [rows.map((row) => row.id).join(',')],
          ),
        ],
        { commit: true },
      ),
    );
  }

  async #release(rows: readonly ClaimedRow[]): Promise<void> {
    await this.#deps.orm.em.fork().execute(
      `update ctp_outbox set claimed_until = null
          where id = any(string_to_array(?, ',')::bigint[]) and published_at is null`,
      [rows.map((row) => row.id).join(',')],
    );
  }

  #observeResolutions(rows: readonly ClaimedRow[]): void {
    const observe = this.#deps.onTraceResolved;
    if (observe === undefined) return;
    for (const row of rows) {
      const { trace_event: event, trace_status: status, trace_created_at: createdAt } = row;
      if (event === null || createdAt === null || row.trace_resolved_at === null) continue;
      if (status !== 'SUCCESS' && status !== 'FAILED') continue;
      observe({ event, status, createdAt: new Date(createdAt), resolvedAt: new Date(row.trace_resolved_at) });
    }
  }

  async #publishJobs(rows: readonly ClaimedRow[]): Promise<void> {
    const byQueue = new Map<QueueName, Parameters<Queue['addBulk']>[0]>();
    for (const row of rows) {
      const kind = JOB_BY_TOPIC.get(row.topic);
      if (kind === undefined) {
        this.#deps.logger.error(
          { outboxId: row.id, topic: row.topic },
          'outbox row with an unknown topic skipped',
        );
        continue;
      }
      const { jobId, ...data } = row.payload;
      const job = JOBS[kind];
      const list = byQueue.get(job.queue) ?? [];
      list.push({ name: job.name, data, opts: jobId === undefined ? {} : { jobId } });
      byQueue.set(job.queue, list);
    }
    await Promise.all([...byQueue].map(([queue, jobs]) => this.#deps.queues[queue].addBulk(jobs)));
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const moved = await this.relayOnce();
        failures = 0;
        if (moved === this.#batchSize) continue;
      } catch (error) {
        failures += 1;
        this.#deps.logger.error({ err: error, failures }, 'outbox relay failed; retrying');
      }
      await this.#sleep(failures === 0 ? this.#pollIntervalMs : Math.min(30_000, 250 * 2 ** failures));
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#pendingWake) {
      this.#pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }

  #wakeUp(): void {
    if (this.#wake) this.#wake();
    else this.#pendingWake = true;
  }

  /** LISTEN on a dedicated connection; if it drops, reconnect (the poll covers the gap). */
  async #listen(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#deps.databaseUrl });
    client.on('notification', () => this.#wakeUp());
    client.on('error', (error) => {
      this.#deps.logger.warn({ err: error }, 'outbox LISTEN connection lost; reconnecting');
      this.#listener = null;
      setTimeout(() => void this.#listen().catch(() => undefined), 1_000);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.#listener = client;
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'outbox LISTEN failed; polling until it works');
      await client.end().catch(() => undefined);
      setTimeout(() => void this.#listen().catch(() => undefined), 1_000);
    }
  }
}

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
  /**
   * Called once per resolved trace, after its outcome notification is published (metrics). The
   * relay sees every outcome exactly once whichever path resolved it (webhook, poller, deadline,
   * operator), and a claimed row is published by one worker only.
   */
  readonly onTraceResolved?: (trace: ResolvedTrace) => void;
}

const JOB_BY_TOPIC = new Map<string, JobKind>(
  Object.entries(JOB_TOPICS).map(([kind, topic]) => [topic, kind as JobKind]),
);

/**
 * Moves committed outbox rows to where they go: jobs to BullMQ (job id = the row's key, so a
 * re-relay of a live job is a no-op) and notifications to the stream. One transaction per batch:
 * rows are claimed `FOR UPDATE SKIP LOCKED` (several workers relay side by side without
 * double work), published, then marked published. If the process dies in between, the
 * transaction rolls back and the rows are published again — at-least-once, made exactly-once by
 * the job ids and the notification ids.
 */
export class OutboxRelay {
  readonly #deps: RelayDependencies;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  #listener: pg.Client | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #pendingWake = false;
  #loop: Promise<void> | null = null;

  constructor(deps: RelayDependencies) {
    this.#deps = deps;
    this.#batchSize = deps.batchSize ?? 500;
    this.#pollIntervalMs = deps.pollIntervalMs ?? 1_000;
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
   * Publishes one batch; returns how many rows it moved. Two round trips: claim and mark the rows
   * (begin, then one statement), publish them, commit. A failed publish rolls the marks back.
   * The commit is asynchronous (`synchronous_commit = off`): if PostgreSQL itself crashes in the
   * next fraction of a second the marks may be lost, and the rows are published again — which
   * the job ids and the notification ids make harmless, as for any re-relay.
   */
  async relayOnce(): Promise<number> {
    const published = await SqlSession.transaction(this.#deps.orm.em, async (session) => {
      const [, claimed] = await session.run([
        sql('set local synchronous_commit = off'),
        sql(
          `with claimed as (
             select id from ctp_outbox where published_at is null and available_at <= now()
              order by id limit ? for update skip locked),
           marked as (
             update ctp_outbox o set published_at = now() from claimed where o.id = claimed.id
             returning o.id, o.kind, o.topic, o.payload, o.operation_id)
           select m.id, m.kind, m.topic, m.payload, t.event as trace_event, t.status_ctp as trace_status,
                  t.created_at as trace_created_at, t.resolved_at as trace_resolved_at
             from marked m
             left join "ctp_requestIdTracking" t on m.kind = 'notification' and t.operation_id = m.operation_id
            order by m.id`,
          [this.#batchSize],
        ),
      ]);
      const rows = (claimed ?? []) as ClaimedRow[];
      if (rows.length > 0) {
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
      await session.run([], { commit: true });
      return rows;
    });
    this.#observeResolutions(published);
    return published.length;
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

  async #publishJobs(rows: ClaimedRow[]): Promise<void> {
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

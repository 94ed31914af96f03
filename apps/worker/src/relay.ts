import type { Logger } from '@ctp/core/logging';
import type { ResolvedTrace } from '@ctp/core/metrics';
import type { NotificationPublisher } from '@ctp/core/notifications';
import {
  type ClaimedOutboxRow,
  claimOutboxRows,
  claimOutboxRowsTraced,
  claimPlanSettings,
  markOutboxPublished,
  OUTBOX_CHANNEL,
  releaseOutboxRows,
  SqlSession,
} from '@ctp/core/operations';
import { JOB_TOPICS, JOBS, type JobKind, type QueueName } from '@ctp/core/queues';
import {
  SPAN_ATTRIBUTES,
  type Span,
  SpanKind,
  SpanStatusCode,
  startChildSpan,
  traceIdOf,
  tracingEnabled,
} from '@ctp/core/tracing';
import type { Orm } from '@ctp/db';
import type { Queue } from 'bullmq';
import pg from 'pg';

type ClaimedRow = ClaimedOutboxRow;

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
  /** How long a batch's mark waits for the next wake-up (default `MARK_LINGER_MS`). */
  readonly markLingerMs?: number;
}

/**
 * How long a batch's mark waits for the next wake-up to ride in that claim's transaction. While
 * rows keep coming (two a operation: its job and its outcome) the next one almost always comes
 * sooner, and the mark costs no round trip and no commit of its own; standing alone it was one
 * of the relay's two transactions per batch, and the next claim waited behind it. When none
 * comes, the batch is marked alone, this much later (its lease keeps other relays off it).
 */
const MARK_LINGER_MS = 25;

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

type PublicationSpans = Map<string, { span: Span; traceparent: string | undefined }>;

/**
 * With tracing on, a producer span per row that belongs to a trace: the child of the span that
 * wrote the row (`traceparent` in its payload) or else of its operation's stored `traceparent`. A
 * batch's rows are published together, so each span covers its batch's publication.
 */
function publicationSpans(rows: readonly ClaimedRow[]): PublicationSpans {
  const spans: PublicationSpans = new Map();
  if (!tracingEnabled()) return spans;
  for (const row of rows) {
    const parent = parentOf(row);
    if (parent === null) continue;
    spans.set(
      row.id,
      startChildSpan(`outbox publish ${row.topic}`, parent, {
        kind: SpanKind.PRODUCER,
        attributes: {
          [SPAN_ATTRIBUTES.topic]: row.topic,
          ...(row.tenant === undefined ? {} : { [SPAN_ATTRIBUTES.tenant]: row.tenant }),
          ...(row.operation_id == null ? {} : { [SPAN_ATTRIBUTES.operationId]: row.operation_id }),
          ...(row.operation_event == null ? {} : { [SPAN_ATTRIBUTES.event]: row.operation_event }),
          ...(row.kind === 'notification' && row.trace_status !== null
            ? { [SPAN_ATTRIBUTES.outcome]: row.trace_status }
            : {}),
        },
      }),
    );
  }
  return spans;
}

/**
 * The span that wrote the row if it is in the operation's trace (the webhook job that resolved
 * it), else the operation's stored `traceparent` (a poll or a sweep wrote the row, in a trace of
 * its own). A row of no operation (a webhook's job) follows the span that wrote it.
 */
function parentOf(row: ClaimedRow): string | null {
  const written = row.payload.traceparent ?? null;
  const stored = row.operation_traceparent ?? null;
  if (stored === null) return written;
  return written !== null && traceIdOf(written) === traceIdOf(stored) ? written : stored;
}

function endSpans(spans: PublicationSpans, result: 'published' | 'error'): void {
  for (const { span } of spans.values()) {
    if (result === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: 'publish failed' });
    span.end();
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
 * 3. mark them published (and end the lease): in the next claim's transaction when more rows
 *    wait or come within `MARK_LINGER_MS` (one round trip and one commit fewer per batch under
 *    load), otherwise alone.
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
  readonly #markLingerMs: number;
  #listener: pg.Client | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #pendingWake = false;
  #loop: Promise<void> | null = null;
  /**
   * Rows published whose mark rides in the next claim's transaction. Until then their lease keeps
   * other relays off them; if this relay dies first, they are published again when it runs out,
   * which the job ids and notification ids make harmless, as for any relay that dies after
   * publishing.
   */
  #unmarked: string[] = [];

  constructor(deps: RelayDependencies) {
    this.#deps = deps;
    this.#batchSize = deps.batchSize ?? 500;
    this.#pollIntervalMs = deps.pollIntervalMs ?? 1_000;
    this.#redisTimeoutMs = deps.redisTimeoutMs ?? 5_000;
    this.#claimLeaseMs = deps.claimLeaseMs ?? 15_000;
    this.#markLingerMs = deps.markLingerMs ?? MARK_LINGER_MS;
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
    if (this.#unmarked.length > 0) await this.#mark(this.#unmarked).catch(() => undefined);
    await this.#listener?.end().catch(() => undefined);
  }

  /**
   * Publishes one batch; returns how many rows it moved. The claim is one pipelined round trip
   * that commits before any Redis call (the relay is never idle in a transaction while it talks
   * to Redis). The mark is part of the next claim's transaction while rows keep coming (a wake-up
   * within `MARK_LINGER_MS` of the publish), otherwise a statement of its own.
   */
  async relayOnce(): Promise<number> {
    // This claim takes every row committed before it: a wake-up that came earlier is answered.
    this.#pendingWake = false;
    const rows = await this.#claim(this.#unmarked);
    this.#unmarked = [];
    if (rows.length === 0) return 0;
    const spans = publicationSpans(rows);
    try {
      await withDeadline(this.#publish(rows, spans), this.#redisTimeoutMs, 'Redis (outbox relay)');
    } catch (error) {
      endSpans(spans, 'error');
      // Give the lease back so the next attempt (after the loop's backoff) can take the rows.
      await this.#release(rows).catch(() => undefined);
      throw error;
    }
    // More rows are waiting (a wake-up came during the publish or soon after it, or the batch was
    // full): the loop claims again at once, and that claim's transaction marks these.
    const ids = rows.map((row) => row.id);
    if (rows.length === this.#batchSize || (await this.#sleep(this.#markLingerMs))) this.#unmarked = ids;
    else await this.#mark(ids);
    endSpans(spans, 'published');
    this.#observeResolutions(rows);
    return rows.length;
  }

  async #claim(unmarked: readonly string[]): Promise<ClaimedRow[]> {
    // One pipelined round trip: begin, the plan setting (`claimPlanSettings`), the mark of
    // the previous batch if it waited for this claim, the claim, commit. The transaction ends in
    // that round trip, before any Redis call.
    const [, ...results] = await SqlSession.transaction(this.#deps.orm.em.fork(), (session) =>
      session.run(
        [
          claimPlanSettings({}),
          ...(unmarked.length === 0 ? [] : [markOutboxPublished({ ids: [...unmarked] })]),
          (tracingEnabled() ? claimOutboxRowsTraced : claimOutboxRows)({
            limit: this.#batchSize,
            lease_ms: this.#claimLeaseMs,
          }),
        ],
        { commit: true },
      ),
    );
    return (results.at(-1) ?? []) as ClaimedRow[];
  }

  async #publish(rows: readonly ClaimedRow[], spans: PublicationSpans): Promise<void> {
    await this.#publishJobs(
      rows.filter((row) => row.kind === 'job'),
      spans,
    );
    await this.#deps.publisher.publish(
      rows
        .filter((row) => row.kind === 'notification')
        .map((row) => {
          const traceparent = spans.get(row.id)?.traceparent;
          return {
            notificationId: String(row.payload.notificationId),
            payload: String(row.payload.payload),
            ...(traceparent === undefined ? {} : { traceparent }),
          };
        }),
    );
  }

  async #mark(ids: readonly string[]): Promise<void> {
    await SqlSession.runAlone(this.#deps.orm.em.fork(), markOutboxPublished({ ids: [...ids] }));
  }

  async #release(rows: readonly ClaimedRow[]): Promise<void> {
    await SqlSession.runAlone(
      this.#deps.orm.em.fork(),
      releaseOutboxRows({ ids: rows.map((row) => row.id) }),
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

  async #publishJobs(rows: readonly ClaimedRow[], spans: PublicationSpans): Promise<void> {
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
      const { jobId, traceparent: _written, ...data } = row.payload;
      const job = JOBS[kind];
      const list = byQueue.get(job.queue) ?? [];
      // bullmq-otel continues the trace from the job's telemetry metadata (a W3C carrier), in
      // whichever worker runs it, at every retry.
      const traceparent = spans.get(row.id)?.traceparent;
      list.push({
        name: job.name,
        data,
        opts: {
          ...(jobId === undefined ? {} : { jobId }),
          ...(traceparent === undefined ? {} : { telemetry: { metadata: JSON.stringify({ traceparent }) } }),
        },
      });
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
        // A full batch, or a wake-up during or right after the publish: more rows wait, and the
        // next claim marks this batch.
        if (moved === this.#batchSize || this.#unmarked.length > 0) continue;
      } catch (error) {
        failures += 1;
        this.#deps.logger.error({ err: error, failures }, 'outbox relay failed; retrying');
      }
      await this.#sleep(failures === 0 ? this.#pollIntervalMs : Math.min(30_000, 250 * 2 ** failures));
    }
  }

  /** Waits `ms`, or less if a wake-up comes (or came since the last claim); true if one did. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#pendingWake) {
      this.#pendingWake = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.#wake = null;
        resolve(woken);
      };
      this.#wake = () => done(true);
    });
  }

  /** What a NOTIFY on the outbox channel does: rows were committed, claim them. */
  wake(): void {
    this.#wakeUp();
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

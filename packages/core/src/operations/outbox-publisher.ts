import { createHash } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Queue } from 'bullmq';
import type { Logger } from '../logging/index.ts';
import type { ResolvedTrace } from '../metrics/traces.ts';
import type { NotificationPublisher } from '../notifications/publisher.ts';
import {
  JOB_TOPICS,
  JOBS,
  type JobKind,
  jobIdFor,
  type QueueName,
  SUBMIT_ITEMS_MAX,
} from '../queues/definitions.ts';
import {
  SPAN_ATTRIBUTES,
  type Span,
  SpanKind,
  SpanStatusCode,
  startChildSpan,
  traceIdOf,
  tracingEnabled,
} from '../tracing/index.ts';
import {
  type ClaimedOutboxRow,
  markOutboxPublishedByKey,
  type OutboxRow,
  releaseOutboxRowsByKey,
} from './outbox.ts';
import { sharedStatement } from './shared-transaction.ts';
import { attachCommittedPublisher, type CommittedRowsPublisher, SqlSession } from './sql-session.ts';

/**
 * Publishing outbox rows: the relay's rows (claimed by it) and the rows a writer publishes itself
 * right after its commit (`OutboxPublisher`). Both go the same way: jobs to BullMQ (job id = the
 * row's key, so a second publish of a live job is a no-op) and notifications to the stream (the
 * append-once script, so a second publish of an outcome is not appended again).
 */

/** Where rows go. */
export interface OutboxTargets {
  readonly queues: Readonly<Record<QueueName, Queue>>;
  readonly notifications: NotificationPublisher;
  readonly logger: Logger;
}

/** A row to publish: a claimed row, or a committed row of the writer's (`id` = its dedupe key). */
export type PublishedRow = Pick<ClaimedOutboxRow, 'id' | 'kind' | 'topic' | 'payload'> &
  Partial<
    Pick<
      ClaimedOutboxRow,
      'tenant' | 'operation_id' | 'operation_event' | 'operation_traceparent' | 'trace_status'
    >
  >;

const JOB_BY_TOPIC = new Map<string, JobKind>(
  Object.entries(JOB_TOPICS).map(([kind, topic]) => [topic, kind as JobKind]),
);

/** Rejects with `what` after `ms` unless `work` settled first. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
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

export type PublicationSpans = Map<string, { span: Span; traceparent: string | undefined }>;

/**
 * With tracing on, a producer span per row that belongs to a trace: the child of the span that
 * wrote the row (`traceparent` in its payload) or else of its operation's stored `traceparent`. A
 * batch's rows are published together, so each span covers its batch's publication.
 */
export function publicationSpans(rows: readonly PublishedRow[]): PublicationSpans {
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
          ...(row.kind === 'notification' && row.trace_status != null
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
function parentOf(row: PublishedRow): string | null {
  const written = row.payload.traceparent ?? null;
  const stored = row.operation_traceparent ?? null;
  if (stored === null) return written;
  return written !== null && traceIdOf(written) === traceIdOf(stored) ? written : stored;
}

export function endSpans(spans: PublicationSpans, result: 'published' | 'error'): void {
  for (const { span } of spans.values()) {
    if (result === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: 'publish failed' });
    span.end();
  }
}

/** Publishes `rows`: the jobs with one `addBulk` per queue, the notifications in one pipeline. */
export async function publishOutboxRows(
  rows: readonly PublishedRow[],
  spans: PublicationSpans,
  targets: OutboxTargets,
): Promise<void> {
  // Both at once: two round trips in flight on the one connection, not one after the other.
  await Promise.all([
    publishJobs(
      rows.filter((row) => row.kind === 'job'),
      spans,
      targets,
    ),
    targets.notifications.publish(
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
    ),
  ]);
}

async function publishJobs(
  rows: readonly PublishedRow[],
  spans: PublicationSpans,
  targets: OutboxTargets,
): Promise<void> {
  const byQueue = new Map<QueueName, Parameters<Queue['addBulk']>[0]>();
  const add = (queue: QueueName, job: Parameters<Queue['addBulk']>[0][number]) => {
    const list = byQueue.get(queue);
    if (list === undefined) byQueue.set(queue, [job]);
    else list.push(job);
  };
  const items: { tenant: string; operationId: string }[] = [];
  for (const row of rows) {
    const kind = JOB_BY_TOPIC.get(row.topic);
    if (kind === undefined) {
      targets.logger.error(
        { outboxId: row.id, topic: row.topic },
        'outbox row with an unknown topic skipped',
      );
      continue;
    }
    const { jobId, traceparent: _written, ...data } = row.payload;
    if (kind === 'submitItems') {
      const { tenant, operationId } = data;
      if (tenant !== undefined && operationId !== undefined) items.push({ tenant, operationId });
      continue;
    }
    // bullmq-otel continues the trace from the job's telemetry metadata (a W3C carrier), in
    // whichever worker runs it, at every retry.
    const traceparent = spans.get(row.id)?.traceparent;
    add(JOBS[kind].queue, {
      name: JOBS[kind].name,
      data,
      opts: {
        ...(jobId === undefined ? {} : { jobId }),
        ...(traceparent === undefined ? {} : { telemetry: { metadata: JSON.stringify({ traceparent }) } }),
      },
    });
  }
  for (const chunk of submitItemsJobs(items)) add(JOBS.submitItems.queue, chunk);
  await Promise.all([...byQueue].map(([queue, jobs]) => targets.queues[queue].addBulk(jobs)));
}

/**
 * The `submit-items` jobs of batch operations' rows: a tenant's, `SUBMIT_ITEMS_MAX` a job, in the
 * rows' order. A job's id is a digest of its operations' ids: rows published twice in the same
 * groups (a writer that died between its publication and its mark, the relay publishing them
 * again) are one job, and rows regrouped differently make another job, which finds the
 * operations it repeats already submitted (or submits them again under the same
 * `Idempotency-Key`, which the SaaS answers with its first answer). Such a job carries no trace
 * context: it belongs to none of its operations' traces (the feeder's, which wrote them, is one
 * run's).
 */
export function submitItemsJobs(
  items: readonly { tenant: string; operationId: string }[],
): Parameters<Queue['addBulk']>[0] {
  const byTenant = new Map<string, string[]>();
  for (const { tenant, operationId } of items) {
    const ids = byTenant.get(tenant);
    if (ids === undefined) byTenant.set(tenant, [operationId]);
    else ids.push(operationId);
  }
  const jobs: Parameters<Queue['addBulk']>[0] = [];
  for (const [tenant, ids] of byTenant) {
    for (let start = 0; start < ids.length; start += SUBMIT_ITEMS_MAX) {
      const operationIds = ids.slice(start, start + SUBMIT_ITEMS_MAX);
      const digest = createHash('sha256').update(operationIds.join(',')).digest('hex').slice(0, 32);
      jobs.push({
        name: JOBS.submitItems.name,
        data: { tenant, operationIds },
        opts: { jobId: jobIdFor('submitItems', digest) },
      });
    }
  }
  return jobs;
}

export interface OutboxPublisherOptions extends OutboxTargets {
  /** The ORM whose pool's transactions this publisher serves (and where it marks its rows). */
  readonly em: EntityManager;
  /** Deadline of one publication's Redis calls (default 5 s). */
  readonly redisTimeoutMs?: number;
  /**
   * How long a writer's rows are leased to it (default 15 s, at least twice the deadline): if the
   * process dies before it publishes and marks them, the relay publishes them this much later.
   */
  readonly leaseMs?: number;
  /** How long a published row waits for others to be marked with it (default 25 ms). */
  readonly markLingerMs?: number;
  /** Called per resolved trace whose outcome notification this process published (metrics). */
  readonly onTraceResolved?: (trace: ResolvedTrace) => void;
}

/** At most this many rows are marked by one statement, or published in one go. */
const MARK_BATCH = 500;
const PUBLISH_BATCH = 500;

/**
 * Publishes the outbox rows of this process's hot steps right after their commit, so that a job
 * or an outcome does not wait for the relay: no claim (a statement, a commit and its index
 * entries per row), no wake-up, no hop through another process.
 *
 * A row stays a row of the outbox, written in the step's transaction, so the outbox's guarantee
 * holds: the step writes its rows with a lease to the writer (`claimed_until`, `leaseMs`), which
 * keeps the relay off them. After the commit the writer publishes them (under a deadline) and
 * marks them published: the rows of several commits in one statement (`markLingerMs`), sent as
 * a step of the next group commit (`sharedStatement`), so that under load the mark costs neither
 * a round trip nor a commit of its own. Where the process dies, or Redis fails:
 * - before the publish: the lease runs out and the relay publishes the rows (a failed publish
 *   gives the lease back at once and wakes the relay);
 * - after the publish, before the mark: the relay publishes them again when the lease runs out,
 *   which the job ids and notification ids make harmless, as after a relay that dies after its
 *   publish.
 * Rows written outside the hot steps of such a process (the dashboard's actions, the records'
 * hooks, the api's webhook jobs) go through the relay as before.
 */
export class OutboxPublisher implements CommittedRowsPublisher {
  readonly leaseMs: number;
  readonly #options: OutboxPublisherOptions;
  readonly #redisTimeoutMs: number;
  readonly #markLingerMs: number;
  /** Committed rows waiting for the publication under way (`#publishing`). */
  readonly #waiting: OutboxRow[] = [];
  #publishing: Promise<void> | null = null;
  #unmarked: string[] = [];
  #markTimer: NodeJS.Timeout | undefined;
  #marking: Promise<void> = Promise.resolve();
  #detach: (() => void) | undefined;
  /** The last publication failed (the next failure is logged at debug only). */
  #failing = false;

  constructor(options: OutboxPublisherOptions) {
    this.#options = options;
    this.#redisTimeoutMs = options.redisTimeoutMs ?? 5_000;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.#markLingerMs = options.markLingerMs ?? 25;
    if (this.leaseMs < 2 * this.#redisTimeoutMs) {
      throw new Error("a writer's outbox lease must be at least twice its Redis deadline");
    }
  }

  /** From now on the hot steps on `em`'s pool lease their outbox rows to this publisher. */
  async attach(): Promise<void> {
    this.#detach = await attachCommittedPublisher(this.#options.em, this);
  }

  /**
   * Called by the step's session once the rows are committed; never throws. One publication is
   * under way at a time: the rows committed meanwhile wait for it and go out together in the
   * next (a Redis round trip for the jobs and one for the notifications, whatever their number),
   * as the group commit gathers the steps that are ready together.
   */
  publishCommitted(rows: readonly OutboxRow[]): void {
    if (rows.length === 0) return;
    this.#waiting.push(...rows);
    if (this.#publishing !== null) return;
    this.#publishing = this.#drain();
  }

  async #drain(): Promise<void> {
    while (this.#waiting.length > 0) {
      const rows = this.#waiting.splice(0, PUBLISH_BATCH);
      await this.#publish(rows);
    }
    this.#publishing = null;
  }

  async #publish(rows: readonly OutboxRow[]): Promise<void> {
    const published: PublishedRow[] = rows.map((row) => ({
      id: row.dedupeKey,
      kind: row.kind,
      topic: row.topic,
      payload: row.payload,
      tenant: row.tenant,
      operation_id: row.operationId,
      ...(row.resolution === undefined ? {} : { trace_status: row.resolution.status }),
    }));
    const keys = rows.map((row) => row.dedupeKey);
    const spans = publicationSpans(published);
    try {
      await withDeadline(
        publishOutboxRows(published, spans, this.#options),
        this.#redisTimeoutMs,
        'Redis (outbox publish after commit)',
      );
    } catch (error) {
      endSpans(spans, 'error');
      // Once per outage at warn (while Redis is away every commit's publication fails), then debug.
      this.#options.logger[this.#failing ? 'debug' : 'warn'](
        { err: error, rows: rows.length },
        'publishing committed outbox rows failed; the relay takes them',
      );
      this.#failing = true;
      // The lease back, and the relay woken: it publishes them at once instead of in `leaseMs`.
      await SqlSession.runAlone(
        this.#options.em.fork(),
        releaseOutboxRowsByKey({ keys }, { wakesRelay: true }),
      ).catch(() => undefined);
      return;
    }
    endSpans(spans, 'published');
    if (this.#failing) this.#options.logger.info('publishing committed outbox rows works again');
    this.#failing = false;
    const resolvedAt = new Date();
    for (const row of rows) {
      if (row.resolution === undefined) continue;
      this.#options.onTraceResolved?.({ ...row.resolution, resolvedAt });
    }
    this.#unmarked.push(...keys);
    if (this.#unmarked.length >= MARK_BATCH) this.#flushMarks();
    else this.#markTimer ??= setTimeout(() => this.#flushMarks(), this.#markLingerMs);
  }

  #flushMarks(): void {
    clearTimeout(this.#markTimer);
    this.#markTimer = undefined;
    while (this.#unmarked.length > 0) {
      const keys = this.#unmarked.splice(0, MARK_BATCH);
      this.#marking = this.#marking.then(() =>
        sharedStatement(this.#options.em.fork(), markOutboxPublishedByKey({ keys })).then(
          () => undefined,
          (error: unknown) =>
            // Published but not marked: the relay publishes them again when their lease ends,
            // which the ids make harmless.
            this.#options.logger.warn(
              { err: error, rows: keys.length },
              'marking published outbox rows failed',
            ),
        ),
      );
    }
  }

  /** Stops taking rows, waits for the publications under way and marks what they published. */
  async close(): Promise<void> {
    this.#detach?.();
    this.#detach = undefined;
    while (this.#publishing !== null) await this.#publishing;
    this.#flushMarks();
    await this.#marking;
  }
}

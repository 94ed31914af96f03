import type { Logger } from '@ctp/core/logging';
import type { ResolvedTrace } from '@ctp/core/metrics';
import type { NotificationPublisher } from '@ctp/core/notifications';
import {
  type ClaimedOutboxRow,
  claimOutboxRows,
  claimOutboxRowsTraced,
  claimPlanSettings,
  endSpans,
  markOutboxPublished,
  OUTBOX_CHANNEL,
  publicationSpans,
  publishOutboxRows,
  releaseOutboxRows,
  SqlSession,
  withDeadline,
} from '@ctp/core/operations';
import type { QueueName } from '@ctp/core/queues';
import { tracingEnabled } from '@ctp/core/tracing';
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

/**
 * Moves committed outbox rows to where they go: jobs to BullMQ (job id = the row's key, so a
 * re-relay of a live job is a no-op) and notifications to the stream. The hot steps' rows are
 * published by their writer right after its commit (`OutboxPublisher`, leased to it meanwhile);
 * the relay takes the rest, and the rows of a writer that died or whose publish failed. Per batch,
 * three steps, and no PostgreSQL transaction is open while Redis is called:
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
      await withDeadline(
        publishOutboxRows(rows, spans, {
          queues: this.#deps.queues,
          notifications: this.#deps.publisher,
          logger: this.#deps.logger,
        }),
        this.#redisTimeoutMs,
        'Redis (outbox relay)',
      );
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

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { NOTIFICATION_STREAM } from '../contracts/notifications.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { scrubText } from '../logging/redaction.ts';
import {
  inMessageSpan,
  MESSAGING_ATTRIBUTES,
  markSpanFailed,
  SPAN_ATTRIBUTES,
  type Span,
} from '../tracing/context.ts';
import { type DeadLetter, deadLetterFields, deadLetterStreamName } from './consumer-dead-letter.ts';
import { NotificationDedupe } from './consumer-dedupe.ts';
import { Slots } from './consumer-slots.ts';
import { decodeNotificationEntry, type Notification } from './decode.ts';
import { findMissedEntries, inspectNotificationStream, type MissedEntries } from './inspect.ts';
import {
  parseAutoclaimReply,
  parsePendingDetails,
  parseReadReply,
  type StreamEntry,
} from './stream-replies.ts';

/** What a handler receives: the validated payload and where it came from. */
export type ReceivedNotification = Notification & {
  readonly streamId: string;
  readonly notificationId: string;
  /** 1 on first delivery; more when it was retried or taken over from a dead consumer. */
  readonly deliveries: number;
};

/** Resolve to acknowledge; throw to have the entry retried (and dead-lettered in the end). */
export type NotificationHandler = (notification: ReceivedNotification) => Promise<void> | void;

export interface NotificationConsumerOptions {
  /** Used for every command but the blocking read, which gets its own connection (a duplicate). */
  readonly redis: Redis;
  /** The consumer group: one per downstream system; its consumers share the entries. */
  readonly group: string;
  readonly handler: NotificationHandler;
  readonly stream?: string;
  /** Unique within the group. Default: host, pid and a random suffix. */
  readonly consumer?: string;
  /** Where a group created by this consumer starts: `$` (only new entries; default), `0` (all retained), an id. */
  readonly startFrom?: string;
  /** Entries handled at once (read ahead at most this many). Default 8. */
  readonly concurrency?: number;
  /**
   * An entry pending (delivered, not acknowledged) this long is taken over by any consumer of
   * the group: its consumer died, or its handler failed and it is due for a retry. A handler
   * must finish well within it. Default 60 s.
   */
  readonly claimIdleMs?: number;
  /** How often to look for such entries. Default: half of `claimIdleMs`, at most 30 s. */
  readonly claimIntervalMs?: number;
  /** Deliveries before an entry goes to the dead-letter stream. Default 5. */
  readonly maxDeliveries?: number;
  readonly deadLetterStream?: string;
  /** Approximate MAXLEN of the dead-letter stream. Default 100 000. */
  readonly deadLetterMaxLength?: number;
  /** How long a handled notificationId is remembered to drop later copies. Default 24 h. */
  readonly dedupeWindowMs?: number;
  /** How long one blocking read waits for new entries. Default 2 s. */
  readonly blockMs?: number;
  /** How often to check whether the group fell behind retention. Default 60 s. */
  readonly inspectIntervalMs?: number;
  readonly logger?: Logger;
  /** The group's position is older than the oldest entry kept: entries were trimmed unread. */
  readonly onMissed?: (missed: MissedEntries) => void;
  readonly onDeadLetter?: (letter: DeadLetter) => void;
}

type Settings = Required<Omit<NotificationConsumerOptions, 'logger' | 'onMissed' | 'onDeadLetter'>>;

const RETRY_AFTER_ERROR_MS = 1_000;

/** What became of one delivery of an entry: the `ctp.outcome` of its span. */
type Disposition = 'handled' | 'duplicate' | 'busy' | 'retry' | 'dead_letter';

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function settingsOf(options: NotificationConsumerOptions): Settings {
  const stream = options.stream ?? NOTIFICATION_STREAM;
  const claimIdleMs = positiveInteger('claimIdleMs', options.claimIdleMs ?? 60_000);
  if (options.group === '') throw new RangeError('group must not be empty');
  return {
    redis: options.redis,
    group: options.group,
    handler: options.handler,
    stream,
    consumer: options.consumer ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    startFrom: options.startFrom ?? '$',
    concurrency: positiveInteger('concurrency', options.concurrency ?? 8),
    claimIdleMs,
    claimIntervalMs: positiveInteger(
      'claimIntervalMs',
      options.claimIntervalMs ?? Math.max(1, Math.min(Math.floor(claimIdleMs / 2), 30_000)),
    ),
    maxDeliveries: positiveInteger('maxDeliveries', options.maxDeliveries ?? 5),
    deadLetterStream: options.deadLetterStream ?? deadLetterStreamName(stream, options.group),
    deadLetterMaxLength: positiveInteger('deadLetterMaxLength', options.deadLetterMaxLength ?? 100_000),
    dedupeWindowMs: positiveInteger('dedupeWindowMs', options.dedupeWindowMs ?? 24 * 3_600_000),
    blockMs: positiveInteger('blockMs', options.blockMs ?? 2_000),
    inspectIntervalMs: positiveInteger('inspectIntervalMs', options.inspectIntervalMs ?? 60_000),
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const messageOf = (error: unknown): string =>
  scrubText(error instanceof Error ? error.message : String(error));

/**
 * A consumer of the notification stream in a consumer group: at-least-once delivery made
 * effectively once per group by `notificationId`.
 *
 * - New entries come from XREADGROUP `>` on a connection of its own (a blocking read holds its
 *   connection), at most `concurrency` at a time.
 * - An entry is acknowledged only after the handler resolved, in the same script that marks its
 *   notificationId handled.
 * - A handler that throws leaves the entry pending; once idle for `claimIdleMs` any consumer of
 *   the group (this one too) claims it with XAUTOCLAIM and tries again; so are entries of a
 *   consumer that died. After `maxDeliveries` the entry goes to the dead-letter stream.
 * - An entry that is not a notification (no notificationId, not JSON, not one of the three
 *   payload shapes) goes to the dead-letter stream at once, with the reason: retrying cannot fix it.
 * - `stop()` stops reading, lets running handlers finish and acknowledges them.
 * - Each delivery is handled in a span that continues the trace of the entry's `traceparent`
 *   (`inMessageSpan`), so the handler's work shows in the operation's trace.
 */
export class NotificationConsumer {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #onMissed: ((missed: MissedEntries) => void) | undefined;
  readonly #onDeadLetter: ((letter: DeadLetter) => void) | undefined;
  readonly #dedupe: NotificationDedupe;
  readonly #slots: Slots;
  /** Entries being handled by this consumer, by stream id. */
  readonly #inFlight = new Map<string, Promise<void>>();
  /** The notification ids this consumer is handling, so two copies in one batch run one after the other. */
  readonly #byNotification = new Map<string, Promise<void>>();
  #blocking: Redis | undefined;
  #starting: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #claimCursor = '0-0';
  #nextClaimAt = 0;
  #nextInspectAt = 0;
  #reportedMiss: string | undefined;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopped: Promise<void> | undefined;

  constructor(options: NotificationConsumerOptions) {
    this.#settings = settingsOf(options);
    this.#logger = (options.logger ?? createLogger({ name: 'notification-consumer' })).child({
      stream: this.#settings.stream,
      group: this.#settings.group,
      consumer: this.#settings.consumer,
    });
    this.#onMissed = options.onMissed;
    this.#onDeadLetter = options.onDeadLetter;
    this.#dedupe = new NotificationDedupe(options.redis, {
      stream: this.#settings.stream,
      group: this.#settings.group,
      windowMs: this.#settings.dedupeWindowMs,
      // A lease as long as the claim idle time: by the time a dead consumer's entries are
      // claimed, a copy of its notification elsewhere is no longer blocked by it.
      leaseMs: this.#settings.claimIdleMs,
    });
    this.#slots = new Slots(this.#settings.concurrency);
  }

  get consumerName(): string {
    return this.#settings.consumer;
  }

  get deadLetterStream(): string {
    return this.#settings.deadLetterStream;
  }

  /** Creates the group if needed, reports missed entries, then consumes until `stop()`. */
  start(): Promise<void> {
    if (this.#state !== 'new') return Promise.reject(new Error('a NotificationConsumer starts once'));
    this.#state = 'running';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    await this.#ensureGroup();
    // Before the first read: once read past, trimmed entries leave no trace in the group.
    await this.#inspect();
    this.#blocking = this.#settings.redis.duplicate();
    await this.#recoverOwnPending();
    // stop() may have been called meanwhile: then there is nothing to start.
    if (!this.#running) return;
    this.#loop = this.#runLoop();
    this.#logger.info({ concurrency: this.#settings.concurrency }, 'notification consumer started');
  }

  /** Stops reading, waits for running handlers (their entries are acknowledged), closes its connection. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#slots.wake();
    // A start still under way sees the state and returns without reading further.
    await this.#starting?.catch(() => undefined);
    // Abandon the blocked read rather than wait up to blockMs. Entries Redis may have handed
    // over in that instant stay pending under this consumer and are claimed after claimIdleMs.
    this.#blocking?.disconnect();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight.values()]);
    await this.#forgetSelfIfIdle();
    this.#state = 'stopped';
    this.#logger.info('notification consumer stopped');
  }

  get #running(): boolean {
    return this.#state === 'running';
  }

  async #ensureGroup(): Promise<void> {
    const { redis, stream, group, startFrom } = this.#settings;
    try {
      await redis.xgroup('CREATE', stream, group, startFrom, 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  /**
   * One loop does both claims and reads, so they share the slots without starving each other
   * (a blocking read holds its slots while it waits): claim idle entries when due, then read
   * new ones with the slots left, blocking no longer than until the next claim is due.
   */
  async #runLoop(): Promise<void> {
    const { stream, group, consumer, blockMs, claimIntervalMs } = this.#settings;
    while (this.#running) {
      await this.#slots.whenFree();
      if (!this.#running) return;
      const now = Date.now();
      if (now >= this.#nextClaimAt) {
        this.#nextClaimAt = now + claimIntervalMs;
        await this.#claimIdle().catch((error: unknown) =>
          this.#recoverFrom(error, 'claiming idle entries failed'),
        );
      }
      if (now >= this.#nextInspectAt) {
        await this.#inspect().catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'could not inspect the stream'),
        );
      }
      const reserved = this.#slots.reserve(this.#settings.concurrency);
      if (reserved === 0) continue;
      let used = 0;
      try {
        const blocking = this.#blocking;
        if (!blocking || !this.#running) return;
        const reply = await blocking.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          reserved,
          'BLOCK',
          Math.max(1, Math.min(blockMs, this.#nextClaimAt - Date.now())),
          'STREAMS',
          stream,
          '>',
        );
        for (const entry of parseReadReply(reply)) {
          used += 1;
          this.#dispatch(entry, 1);
        }
      } catch (error) {
        if (!this.#running) return;
        await this.#recoverFrom(error, 'read failed');
      } finally {
        this.#slots.release(reserved - used);
      }
    }
  }

  /** The group vanishes when someone deletes the stream; anything else is waited out. */
  async #recoverFrom(error: unknown, what: string): Promise<void> {
    if (error instanceof Error && error.message.startsWith('NOGROUP')) {
      this.#logger.warn('consumer group or stream disappeared; creating it again');
      await this.#ensureGroup().catch(() => undefined);
      return;
    }
    this.#logger.error({ err: error }, what);
    await delay(RETRY_AFTER_ERROR_MS);
  }

  /**
   * Entries this consumer name read before a restart and never acknowledged come first (a
   * stable consumer name resumes at once; a new name leaves them to XAUTOCLAIM).
   */
  async #recoverOwnPending(): Promise<void> {
    const { stream, group, consumer, concurrency } = this.#settings;
    const blocking = this.#blocking;
    if (!blocking) return;
    let after = '0-0';
    while (this.#running) {
      await this.#slots.whenFree();
      const reserved = this.#slots.reserve(concurrency);
      if (reserved === 0) continue;
      let used = 0;
      try {
        const reply = await blocking.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          reserved,
          'STREAMS',
          stream,
          after,
        );
        const entries = parseReadReply(reply);
        if (entries.length === 0) return;
        const last = entries.at(-1);
        if (last) after = last.id;
        const trimmed = entries.filter((entry) => entry.fields === null).map((entry) => entry.id);
        if (trimmed.length > 0) await this.#trimmedWhilePending(trimmed);
        const kept = entries.filter((entry) => entry.fields !== null);
        const deliveries = await this.#deliveriesOf(kept.map((entry) => entry.id));
        for (const entry of kept) {
          used += 1;
          this.#dispatch(entry, deliveries.get(entry.id) ?? 1);
        }
      } finally {
        this.#slots.release(reserved - used);
      }
    }
  }

  /** Takes over entries idle for claimIdleMs in the group's pending list, as many as there are free slots. */
  async #claimIdle(): Promise<void> {
    const { redis, stream, group, consumer, claimIdleMs, concurrency } = this.#settings;
    const reserved = this.#slots.reserve(concurrency);
    if (reserved === 0) return;
    let used = 0;
    try {
      const reply = await redis.xautoclaim(
        stream,
        group,
        consumer,
        claimIdleMs,
        this.#claimCursor,
        'COUNT',
        reserved,
      );
      const { cursor, entries, deletedIds } = parseAutoclaimReply(reply);
      // Resume the scan where it stopped, so a long pending list is walked through, not its head only.
      this.#claimCursor = cursor;
      if (deletedIds.length > 0) await this.#trimmedWhilePending(deletedIds);
      // An entry of ours whose handler is still running (slower than claimIdleMs) is not started twice.
      const fresh = entries.filter((entry) => !this.#inFlight.has(entry.id));
      if (fresh.length === 0) return;
      const deliveries = await this.#deliveriesOf(fresh.map((entry) => entry.id));
      for (const entry of fresh) {
        used += 1;
        this.#dispatch(entry, deliveries.get(entry.id) ?? 1);
      }
      this.#logger.info({ claimed: fresh.map((entry) => entry.id) }, 'claimed idle entries');
    } finally {
      this.#slots.release(reserved - used);
    }
  }

  /** XAUTOCLAIM does not say how often an entry was delivered; XPENDING does, one entry each. */
  async #deliveriesOf(ids: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (ids.length === 0) return counts;
    const { redis, stream, group } = this.#settings;
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.xpending(stream, group, id, id, 1);
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      for (const detail of parsePendingDetails(reply)) counts.set(detail.id, detail.deliveries);
    }
    return counts;
  }

  async #trimmedWhilePending(ids: readonly string[]): Promise<void> {
    const { redis, stream, group } = this.#settings;
    // Redis ≥ 7 already removed them from the pending list; this covers older servers.
    await redis.xack(stream, group, ...ids);
    this.#logger.warn(
      { streamIds: ids },
      'entries were trimmed from the stream while pending, before being handled',
    );
  }

  async #inspect(): Promise<void> {
    this.#nextInspectAt = Date.now() + this.#settings.inspectIntervalMs;
    const { redis, stream, group } = this.#settings;
    const state = await inspectNotificationStream(redis, stream);
    if (!state) return;
    const missed = findMissedEntries(state, group);
    const mine = state.groups.find((g) => g.name === group);
    // Only once retention has started trimming (more appended than kept): before that, a new
    // group reading from 0 is "behind" by the whole stream and risks nothing.
    const trimming = state.entriesAdded !== null && state.entriesAdded > state.length;
    if (trimming && mine?.lag != null && mine.lag >= state.length / 2) {
      this.#logger.warn(
        { lag: mine.lag, length: state.length },
        'the group is more than half the stream behind: it will miss entries to retention unless it catches up',
      );
    }
    if (!missed) return;
    // Report each gap once: the same position keeps looking behind until the group reads past it.
    const key = `${missed.lastDeliveredId}..${missed.firstEntryId}`;
    if (this.#reportedMiss === key) return;
    this.#reportedMiss = key;
    this.#logger.error({ missed }, 'entries were trimmed from the stream before this group read them');
    this.#onMissed?.(missed);
  }

  #dispatch(entry: StreamEntry, deliveries: number): void {
    const work = this.#handleInSpan(entry, deliveries)
      .catch((error: unknown) => {
        // Redis failed us mid-way: the entry stays pending and is claimed again later.
        this.#logger.error({ err: error, streamId: entry.id }, 'could not finish an entry; it stays pending');
      })
      .finally(() => {
        this.#inFlight.delete(entry.id);
        this.#slots.release();
      });
    this.#inFlight.set(entry.id, work);
  }

  /** One delivery, in the span of its processing (a child of the entry's `traceparent`). */
  #handleInSpan(entry: StreamEntry, deliveries: number): Promise<void> {
    const { stream, group, consumer } = this.#settings;
    const attributes = {
      [MESSAGING_ATTRIBUTES.system]: 'redis',
      [MESSAGING_ATTRIBUTES.operationName]: 'process',
      [MESSAGING_ATTRIBUTES.operationType]: 'process',
      [MESSAGING_ATTRIBUTES.destination]: stream,
      [MESSAGING_ATTRIBUTES.consumerGroup]: group,
      [MESSAGING_ATTRIBUTES.clientId]: consumer,
      [MESSAGING_ATTRIBUTES.messageId]: entry.id,
      [SPAN_ATTRIBUTES.deliveries]: deliveries,
    };
    const creationContext = entry.fields?.get('traceparent');
    return inMessageSpan(`process ${stream}`, { creationContext, attributes }, async (span) => {
      span.setAttribute(SPAN_ATTRIBUTES.outcome, await this.#handle(entry, deliveries, span));
    });
  }

  async #handle(entry: StreamEntry, deliveries: number, span: Span): Promise<Disposition> {
    const decoded = decodeNotificationEntry(entry.fields);
    if (!decoded.ok) {
      await this.#deadLetter(entry, decoded.notificationId, decoded.reason, deliveries);
      return 'dead_letter';
    }
    span.setAttributes({
      [SPAN_ATTRIBUTES.notificationId]: decoded.notificationId,
      [SPAN_ATTRIBUTES.event]: decoded.payload.transactionType,
      [SPAN_ATTRIBUTES.tenant]: decoded.payload.business,
    });
    if (deliveries > this.#settings.maxDeliveries) {
      // Delivered that often without an ack or a handler error: its consumers died on it.
      const reason = `not acknowledged after ${deliveries - 1} deliveries`;
      await this.#deadLetter(entry, decoded.notificationId, reason, deliveries);
      return 'dead_letter';
    }
    const { ok: _ok, ...notification } = decoded;
    const notificationId = notification.notificationId;
    for (let other = this.#byNotification.get(notificationId); other; ) {
      await other;
      other = this.#byNotification.get(notificationId);
    }
    const done = Promise.withResolvers<void>();
    this.#byNotification.set(notificationId, done.promise);
    try {
      return await this.#handleOnce(entry, { ...notification, streamId: entry.id, deliveries }, span);
    } finally {
      this.#byNotification.delete(notificationId);
      done.resolve();
    }
  }

  async #handleOnce(
    entry: StreamEntry,
    notification: ReceivedNotification,
    span: Span,
  ): Promise<Disposition> {
    const { notificationId, deliveries } = notification;
    const log = this.#logger.child({ streamId: entry.id, notificationId });
    const claim = await this.#dedupe.begin(notificationId, entry.id);
    if (claim === 'duplicate') {
      await this.#settings.redis.xack(this.#settings.stream, this.#settings.group, entry.id);
      log.info('duplicate notification acknowledged without handling');
      return 'duplicate';
    }
    if (claim === 'busy') {
      // Another consumer is handling a copy right now; this one is claimed again later and
      // acknowledged as a duplicate then (or handled, if that consumer failed).
      log.debug('a copy is being handled elsewhere; leaving this entry pending');
      return 'busy';
    }
    try {
      await this.#settings.handler(notification);
    } catch (error) {
      markSpanFailed(span, error);
      await this.#dedupe.release(notificationId, entry.id);
      const reason = `handler failed on delivery ${deliveries}: ${messageOf(error)}`;
      if (deliveries >= this.#settings.maxDeliveries) {
        await this.#deadLetter(entry, notificationId, reason, deliveries);
        return 'dead_letter';
      }
      log.warn(
        { err: error, deliveries, retryAfterMs: this.#settings.claimIdleMs },
        'handler failed; the entry will be retried',
      );
      return 'retry';
    }
    await this.#dedupe.complete(notificationId, entry.id);
    return 'handled';
  }

  async #deadLetter(
    entry: StreamEntry,
    notificationId: string | null,
    reason: string,
    deliveries: number,
  ): Promise<void> {
    const { redis, stream, group, consumer, deadLetterStream, deadLetterMaxLength } = this.#settings;
    const letter: DeadLetter = {
      streamId: entry.id,
      notificationId,
      payload: entry.fields?.get('payload') ?? null,
      reason,
      deliveries,
      stream,
      group,
      consumer,
      failedAt: new Date().toISOString(),
    };
    // Copy and acknowledge in one MULTI: the entry is never lost between the two streams.
    const results = await redis
      .multi()
      .xadd(deadLetterStream, 'MAXLEN', '~', deadLetterMaxLength, '*', ...deadLetterFields(letter))
      .xack(stream, group, entry.id)
      .exec();
    const failed = results?.find(([error]) => error !== null);
    if (failed?.[0]) throw failed[0];
    // The payload itself is never logged: it is data, and an unknown one may hold anything.
    this.#logger.warn(
      { streamId: entry.id, notificationId, reason, deliveries, deadLetterStream },
      'entry moved to the dead-letter stream',
    );
    this.#onDeadLetter?.(letter);
  }

  /** A consumer with nothing pending leaves the group's consumer list, so it does not fill with dead names. */
  async #forgetSelfIfIdle(): Promise<void> {
    const { redis, stream, group, consumer } = this.#settings;
    try {
      const pending = parsePendingDetails(await redis.xpending(stream, group, '-', '+', 1, consumer));
      if (pending.length === 0) await redis.xgroup('DELCONSUMER', stream, group, consumer);
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not remove this consumer from the group');
    }
  }
}

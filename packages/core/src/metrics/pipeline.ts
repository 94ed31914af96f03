import { Counter, Gauge, type Registry } from 'prom-client';

export interface StreamStats {
  readonly length: number;
  /** `lag`: entries not yet delivered to the group; null when Redis cannot tell (after XDEL/trim). */
  readonly groups: readonly {
    readonly name: string;
    readonly lag: number | null;
    readonly pending: number;
  }[];
}

/** Reads taken on each scrape; see `samplers.ts` for the ones the worker uses. */
export interface PipelineSamplers {
  /** Seconds since the oldest outbox row that is due but not yet published was written; 0 when none. */
  readonly outboxLagSeconds: () => Promise<number>;
  readonly notificationStream: () => Promise<StreamStats>;
  /** Webhook deliveries parked after their tries were spent (each waits for a human). */
  readonly parkedWebhooks?: () => Promise<number>;
  /** Jobs per queue and state (waiting, active, delayed, failed, ...). */
  readonly queueJobCounts?: () => Promise<Readonly<Record<string, Readonly<Record<string, number>>>>>;
}

export interface PipelineGauges {
  readonly outboxLag: Gauge;
  readonly streamLength: Gauge;
  readonly consumerLag: Gauge<'group'>;
  readonly consumerPending: Gauge<'group'>;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly webhooksParked: Gauge | undefined;
  readonly sampleErrors: Counter<'sampler'>;
}

/**
 * Gauges sampled when Prometheus scrapes (so they cost nothing between scrapes and are never
 * stale by more than one read). A read that fails (PostgreSQL or Redis down) leaves its gauges
 * NaN (or without series) and counts in `ctp_metrics_sample_errors_total`, rather than failing
 * the whole scrape or repeating an old value as if it were current.
 */
export function createPipelineGauges(registry: Registry, samplers: PipelineSamplers): PipelineGauges {
  const sampleErrors = new Counter({
    name: 'ctp_metrics_sample_errors_total',
    help: 'Scrape-time reads that failed, by sampler',
    labelNames: ['sampler'],
    registers: [registry],
  });
  /** The read's value, or null (counted) when it failed. */
  const sampled =
    <T>(sampler: string, read: () => Promise<T>) =>
    async (): Promise<T | null> => {
      try {
        return await read();
      } catch {
        sampleErrors.inc({ sampler });
        return null;
      }
    };

  const outboxLagSeconds = sampled('outbox', samplers.outboxLagSeconds);
  const outboxLag = new Gauge({
    name: 'ctp_outbox_lag_seconds',
    help: 'Age of the oldest due outbox row not yet published (0 when the outbox is drained)',
    registers: [registry],
    async collect() {
      this.set((await outboxLagSeconds()) ?? Number.NaN);
    },
  });

  // One XLEN + XINFO GROUPS per scrape feeds three gauges: prom-client starts every collect in
  // the same tick, so they all await the same read.
  const streamStats = sharedRead(sampled('stream', samplers.notificationStream));
  const streamLength = new Gauge({
    name: 'ctp_notification_stream_length',
    help: 'Entries in the notification stream (XLEN)',
    registers: [registry],
    async collect() {
      this.set((await streamStats())?.length ?? Number.NaN);
    },
  });
  const groupGauge = (name: string, help: string, read: (group: StreamStats['groups'][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['group'],
      registers: [registry],
      async collect() {
        const stats = await streamStats();
        // Groups come and go: start from empty so a deleted group does not linger.
        this.reset();
        for (const group of stats?.groups ?? []) this.set({ group: group.name }, read(group));
      },
    });
  const consumerLag = groupGauge(
    'ctp_notification_consumer_lag',
    'Notification stream entries not yet delivered to each consumer group (XINFO GROUPS lag)',
    (group) => group.lag ?? Number.NaN,
  );
  const consumerPending = groupGauge(
    'ctp_notification_consumer_pending',
    'Notification stream entries delivered to each consumer group but not acknowledged',
    (group) => group.pending,
  );

  const readQueues = samplers.queueJobCounts;
  const queueCounts = readQueues === undefined ? undefined : sampled('queues', readQueues);
  const queueJobs = new Gauge({
    name: 'ctp_queue_jobs',
    help: 'BullMQ jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (queueCounts === undefined) return;
      const counts = await queueCounts();
      this.reset();
      for (const [queue, states] of Object.entries(counts ?? {})) {
        for (const [state, count] of Object.entries(states)) this.set({ queue, state }, count);
      }
    },
  });

  const readParked = samplers.parkedWebhooks;
  const parkedCount = readParked === undefined ? undefined : sampled('webhooks_parked', readParked);
  const webhooksParked =
    parkedCount === undefined
      ? undefined
      : new Gauge({
          name: 'ctp_webhooks_parked',
          help: 'Webhook deliveries parked after WEBHOOK_MAX_ATTEMPTS failed tries (listed on the dashboard)',
          registers: [registry],
          async collect() {
            this.set((await parkedCount()) ?? Number.NaN);
          },
        });

  return { outboxLag, streamLength, consumerLag, consumerPending, queueJobs, webhooksParked, sampleErrors };
}

/** Concurrent calls share one read; the next call after it settles reads again. */
function sharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | null = null;
  return () => {
    inflight ??= read().finally(() => {
      inflight = null;
    });
    return inflight;
  };
}

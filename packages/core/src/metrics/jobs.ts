import { Counter, Histogram, type Registry } from 'prom-client';

/** What the job metrics read of a BullMQ job (kept structural: core does not depend on BullMQ). */
export interface FinishedJob {
  readonly processedOn?: number | undefined;
  readonly finishedOn?: number | undefined;
}

export interface JobMetrics {
  readonly jobs: Counter<'queue' | 'result'>;
  readonly duration: Histogram<'queue' | 'result'>;
  /** A worker's `completed` event. */
  completed(queue: string, job: FinishedJob): void;
  /**
   * A worker's `failed` event: `retried` when BullMQ will run the job again (it has no
   * `finishedOn` yet), `failed` when its attempts are spent or the error was unrecoverable.
   */
  failed(queue: string, job: FinishedJob | undefined): void;
  /** A worker's `stalled` event: a job whose worker stopped renewing its lock. */
  stalled(queue: string): void;
}

export function createJobMetrics(registry: Registry): JobMetrics {
  const jobs = new Counter({
    name: 'ctp_jobs_total',
    help: 'BullMQ job attempts by queue and result (completed, retried, failed, stalled)',
    labelNames: ['queue', 'result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ctp_job_duration_seconds',
    help: 'Time a job attempt ran, by queue and result',
    labelNames: ['queue', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const observe = (queue: string, result: string, job: FinishedJob | undefined) => {
    jobs.inc({ queue, result });
    const started = job?.processedOn;
    const ended = job?.finishedOn ?? Date.now();
    if (started !== undefined) duration.observe({ queue, result }, Math.max(0, ended - started) / 1000);
  };
  return {
    jobs,
    duration,
    completed: (queue, job) => observe(queue, 'completed', job),
    failed: (queue, job) =>
      observe(queue, job !== undefined && job.finishedOn === undefined ? 'retried' : 'failed', job),
    stalled: (queue) => jobs.inc({ queue, result: 'stalled' }),
  };
}

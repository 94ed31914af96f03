import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { Queue, Worker } from 'bullmq';

/**
 * Baseline: how many no-op jobs per second BullMQ moves on this machine, one worker process with
 * the pipeline's concurrency, removeOnComplete as in production. `bulk`: added in bulk first,
 * only the processing timed; `streaming`: added one by one while the worker consumes, both timed.
 */
export async function measureRawBullmq(
  redisUrl: string,
  jobs: number,
  concurrency: number,
  mode: 'bulk' | 'streaming' = 'bulk',
): Promise<{ jobsPerSecond: number }> {
  const prefix = `{bench-${randomBytes(4).toString('hex')}}`;
  const connection = createRedis(redisUrl);
  const queue = new Queue('noop', { connection, prefix, defaultJobOptions: { removeOnComplete: true } });
  let done = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = new Worker(
    'noop',
    async () => {
      done += 1;
      if (done === jobs) finish();
    },
    { connection, prefix, concurrency, autorun: false },
  );
  let started: number;
  if (mode === 'bulk') {
    for (let i = 0; i < jobs; i += 1_000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1_000, jobs - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })),
      );
    }
    started = performance.now();
    void worker.run();
  } else {
    // As the pipeline uses it: jobs added one by one (16 producers) while the worker consumes.
    started = performance.now();
    void worker.run();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < jobs; i = next++) await queue.add('noop', { i });
      }),
    );
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return { jobsPerSecond: jobs / seconds };
}

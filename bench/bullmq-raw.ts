import { randomBytes } from 'node:crypto';
import { createRedis } from '@ctp/core/queues';
import { Queue, Worker } from 'bullmq';

/**
 * Baseline: how many no-op jobs per second BullMQ moves on this machine (add in bulk, one
 * worker process with the pipeline's concurrency, removeOnComplete as in production).
 */
export async function measureRawBullmq(
  redisUrl: string,
  jobs: number,
  concurrency: number,
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
  for (let i = 0; i < jobs; i += 1_000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1_000, jobs - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })),
    );
  }
  const started = performance.now();
  void worker.run();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return { jobsPerSecond: jobs / seconds };
}

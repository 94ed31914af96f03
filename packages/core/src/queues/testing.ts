import { connect } from 'node:net';
import { Redis } from 'ioredis';

/**
 * For tests: the Redis scripts run on keys under `keyPrefix` during `work`, as Redis ran them:
 * MONITOR, on a socket of its own (ioredis's monitor takes monitor lines arriving with its OK
 * for replies, and fails, when other tests or a benchmark keep the same Redis busy). `redis`
 * sends the closing marker.
 */
export async function scriptsRun<T>(
  redis: Redis,
  keyPrefix: string,
  work: () => Promise<T>,
): Promise<{ result: T; scripts: number }> {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const socket = connect(Number(url.port || 6379), url.hostname);
  const marker = `${keyPrefix}:marker`;
  let scripts = 0;
  let pending = '';
  let monitoring = () => {};
  let markerRun = () => {};
  const started = new Promise<void>((resolve, reject) => {
    monitoring = resolve;
    socket.once('error', reject);
  });
  const markerSeen = new Promise<void>((resolve) => {
    markerRun = resolve;
  });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\r\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '+OK') monitoring();
      // +<time> [<db> <client>] "evalsha" "<sha>" "1" "<key>" …
      const [command, first, , key] = (line.match(/"(?:[^"\\]|\\.)*"/g) ?? []).map((arg) => arg.slice(1, -1));
      if ((command === 'evalsha' || command === 'eval') && key?.startsWith(`${keyPrefix}:`)) scripts += 1;
      if (command === 'get' && first === marker) markerRun();
    }
  });
  socket.write('MONITOR\r\n');
  try {
    await started;
    const result = await work();
    // MONITOR reports in the order Redis ran the commands: once the marker is seen, so are all.
    await redis.get(marker);
    await markerSeen;
    return { result, scripts };
  } finally {
    socket.destroy();
  }
}

/** For tests: a client of a Redis that refuses every connection, at once and without retrying. */
export function unreachableRedis(): Redis {
  const unreachable = new Redis({
    port: 1,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  unreachable.on('error', () => {}); // refused connections are the point, not news
  return unreachable;
}

import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createLogger } from '@ctp/core/logging';
import {
  inspectNotificationStream,
  NotificationConsumer,
  parseReadReply,
  previousStreamId,
} from '@ctp/core/notifications';
import type { Redis } from 'ioredis';
import { type CliEnv, readCliEnv } from '../env.ts';
import { EXIT, type Io } from '../io.ts';
import { connectRedis } from '../redis.ts';
import { formatter, type Printable, printable } from './format.ts';
import { retentionNote, startId } from './positions.ts';

export const TAIL_HELP = `Usage: ctp notifications tail [--group <name>] [--from <id|time>] [--json]

Prints notifications as they are appended to the stream, until Ctrl-C.

Options:
  --group <name>     read as a consumer of this consumer group (created if missing): the
                     group's consumers share the entries, and each is acknowledged once
                     printed; entries that are not notifications go to the group's
                     dead-letter stream. Without --group, tail only reads: nothing changes.
  --consumer <name>  this consumer's name in the group [ctp-cli-<host>-<pid>]
  --from <id|time>   where to start: $ (new entries only; default), 0 (every entry kept),
                     a stream id (inclusive), an ISO time, or a duration back (15m, 2h, 7d).
                     With --group it applies only when the group is created.
  --json             one JSON object per line: {"streamId","notificationId","payload"}
  -h, --help         this help

Environment: REDIS_URL [redis://127.0.0.1:6379], NOTIFICATION_STREAM [m2p.notification.all]
`;

export async function tail(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      group: { type: 'string' },
      consumer: { type: 'string' },
      from: { type: 'string', default: '$' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(TAIL_HELP);
    return EXIT.ok;
  }
  // `$` and `0` are Redis's own positions; anything else is read inclusive of the id given.
  const from =
    values.from === '$' || values.from === '0'
      ? values.from
      : previousStreamId(startId('--from', values.from));
  const env = readCliEnv(io.env);
  const redis = await connectRedis(env.REDIS_URL, { follow: true });
  const print = formatter(values.json);
  const write = (entry: Printable) => io.stdout.write(`${print(entry)}\n`);
  try {
    if (values.group === undefined) await follow(redis, env, from, write, io);
    else await consume(redis, env, { group: values.group, consumer: values.consumer, from }, write, io);
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

/** Plain XREAD: a reader that no consumer group knows about. */
async function follow(redis: Redis, env: CliEnv, from: string, write: (entry: Printable) => void, io: Io) {
  const stream = env.NOTIFICATION_STREAM;
  const state = await inspectNotificationStream(redis, stream);
  // Resolve `$` once: XREAD with `$` on every call would skip what arrives between two calls.
  let last = from === '$' ? (state?.lastEntryId ?? '0-0') : from === '0' ? '0-0' : from;
  const note = state && from !== '$' ? retentionNote(state, last) : undefined;
  if (note) io.stderr.write(note);
  const stop = () => redis.disconnect();
  io.signal.addEventListener('abort', stop, { once: true });
  try {
    while (!io.signal.aborted) {
      let reply: unknown;
      try {
        reply = await redis.xread('COUNT', 100, 'BLOCK', 5_000, 'STREAMS', stream, last);
      } catch (error) {
        if (io.signal.aborted) return;
        throw error;
      }
      for (const entry of parseReadReply(reply)) {
        write(printable(entry));
        last = entry.id;
      }
    }
  } finally {
    io.signal.removeEventListener('abort', stop);
  }
}

/** A real consumer of the group, with the library's acknowledgement, claims and dead letters. */
async function consume(
  redis: Redis,
  env: CliEnv,
  options: { group: string; consumer: string | undefined; from: string },
  write: (entry: Printable) => void,
  io: Io,
) {
  const consumer = new NotificationConsumer({
    redis,
    stream: env.NOTIFICATION_STREAM,
    group: options.group,
    consumer: options.consumer ?? `ctp-cli-${hostname()}-${process.pid}`,
    startFrom: options.from,
    // One at a time keeps the printed order the stream's order.
    concurrency: 1,
    // The library logs to stderr, so stdout stays one notification per line.
    logger: createLogger({
      name: 'ctp-cli',
      // Its start/stop lines are noise here; warnings (dead letters, missed entries) are not.
      level: env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL,
      destination: { write: (line: string) => void io.stderr.write(line) },
    }),
    handler: (notification) => {
      write({
        streamId: notification.streamId,
        decoded: { ok: true, ...notification },
        rawPayload: undefined,
      });
    },
  });
  await consumer.start();
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await consumer.stop();
}

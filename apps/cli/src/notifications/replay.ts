import { parseArgs } from 'node:util';
import { inspectNotificationStream, isStreamId, parseEntries } from '@ctp/core/notifications';
import { readCliEnv } from '../env.ts';
import { EXIT, type Io, UsageError } from '../io.ts';
import { connectRedis } from '../redis.ts';
import { formatter, printable } from './format.ts';
import { retentionNote, startId } from './positions.ts';

export const REPLAY_HELP = `Usage: ctp notifications replay --since <id|time> [--until <id|time>] [--json]

Prints the notifications kept in the stream from --since (inclusive) up to the newest entry
at the moment it starts (or --until, inclusive), then exits. Reads only: no consumer group,
no acknowledgement, nothing changes.

Options:
  --since <id|time>  a stream id (1732000000000-0), an ISO time (2026-11-23T10:00:00Z),
                     a duration back from now (90s, 15m, 2h, 7d), or 0 for all kept entries
  --until <id|time>  stop after this id or time [the newest entry at start]
  --json             one JSON object per line: {"streamId","notificationId","payload"}
  -h, --help         this help

Environment: REDIS_URL [redis://127.0.0.1:6379], NOTIFICATION_STREAM [m2p.notification.all]
`;

const PAGE = 500;

/** An end given as a time means "up to the end of that millisecond": XRANGE reads a bare ms as ms-<max>. */
function endId(value: string): string {
  if (isStreamId(value) && value.includes('-')) return value;
  return startId('--until', value).replace(/-0$/, '');
}

export async function replay(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(REPLAY_HELP);
    return EXIT.ok;
  }
  if (values.since === undefined) throw new UsageError('replay needs --since <id|time>');
  const from = startId('--since', values.since);
  const end = values.until === undefined ? undefined : endId(values.until);

  const env = readCliEnv(io.env);
  const redis = await connectRedis(env.REDIS_URL, { follow: false });
  try {
    const state = await inspectNotificationStream(redis, env.NOTIFICATION_STREAM);
    if (!state || state.lastEntryId === null) {
      io.stderr.write(`note: the stream ${env.NOTIFICATION_STREAM} has no entries\n`);
      return EXIT.ok;
    }
    const note = retentionNote(state, from);
    if (note) io.stderr.write(note);
    const format = formatter(values.json);
    let cursor = from;
    for (;;) {
      const entries = parseEntries(
        await redis.xrange(env.NOTIFICATION_STREAM, cursor, end ?? state.lastEntryId, 'COUNT', PAGE),
      );
      for (const entry of entries) io.stdout.write(`${format(printable(entry))}\n`);
      const last = entries.at(-1);
      if (!last || entries.length < PAGE || io.signal.aborted) break;
      cursor = `(${last.id}`;
    }
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

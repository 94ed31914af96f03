import { parseArgs } from 'node:util';
import { findMissedEntries, inspectNotificationStream, streamIdTime } from '@ctp/core/notifications';
import { readCliEnv } from '../env.ts';
import { EXIT, type Io } from '../io.ts';
import { connectRedis } from '../redis.ts';

export const INFO_HELP = `Usage: ctp notifications info [--json]

Shows the stream's retention (how many entries it keeps, the oldest and newest) and each
consumer group: consumers, pending (delivered, not acknowledged), lag (not yet delivered)
and whether it missed entries that were trimmed before it read them.

Options:
  --json      one JSON object
  -h, --help  this help

Environment: REDIS_URL, NOTIFICATION_STREAM, NOTIFICATION_STREAM_MAXLEN (what the worker trims to)
`;

const at = (id: string | null) => (id === null ? '-' : `${id} (${streamIdTime(id).toISOString()})`);

export async function info(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(INFO_HELP);
    return EXIT.ok;
  }
  const env = readCliEnv(io.env);
  const redis = await connectRedis(env.REDIS_URL, { follow: false });
  try {
    const state = await inspectNotificationStream(redis, env.NOTIFICATION_STREAM);
    if (!state) {
      io.stderr.write(`note: the stream ${env.NOTIFICATION_STREAM} does not exist yet\n`);
      return EXIT.ok;
    }
    const groups = state.groups.map((group) => ({ ...group, missed: findMissedEntries(state, group.name) }));
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...state, maxLength: env.NOTIFICATION_STREAM_MAXLEN, groups })}\n`);
      return EXIT.ok;
    }
    const lines = [
      `stream ${state.stream}`,
      `  entries kept    ${state.length} (trimmed to about ${env.NOTIFICATION_STREAM_MAXLEN}, NOTIFICATION_STREAM_MAXLEN)`,
      `  oldest kept     ${at(state.firstEntryId)}`,
      `  newest          ${at(state.lastEntryId)}`,
      `  ever appended   ${state.entriesAdded ?? 'unknown (Redis < 7)'}`,
    ];
    for (const group of groups) {
      lines.push(
        `group ${group.name}: ${group.consumers} consumers, ${group.pending} pending, lag ${group.lag ?? 'unknown'}, ` +
          `last delivered ${at(group.lastDeliveredId === '0-0' ? null : group.lastDeliveredId)}`,
      );
      if (group.missed) {
        lines.push(
          `  MISSED ${group.missed.count ?? 'some'} entries: trimmed before the group read them ` +
            `(its position ${group.missed.lastDeliveredId} is older than the oldest kept ${group.missed.firstEntryId})`,
        );
      }
    }
    io.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

import { ConfigError } from '@ctp/core/config';
import { EXIT, type Io, UsageError } from './io.ts';
import { INFO_HELP, info } from './notifications/info.ts';
import { REPLAY_HELP, replay } from './notifications/replay.ts';
import { TAIL_HELP, tail } from './notifications/tail.ts';
import { RedisUnavailableError } from './redis.ts';

export const HELP = `Usage: ctp <command> [options]

Commands:
  notifications tail     print notifications as they are appended (Ctrl-C to stop)
  notifications replay   print the notifications kept since a time or stream id, then exit
  notifications info     the stream's retention and its consumer groups (lag, pending, missed)

Run \`ctp notifications <command> --help\` for a command's options.

Environment: REDIS_URL [redis://127.0.0.1:6379], NOTIFICATION_STREAM [m2p.notification.all]
`;

const NOTIFICATIONS_HELP = `Usage: ctp notifications <tail|replay|info> [options]\n\n${TAIL_HELP}\n${REPLAY_HELP}\n${INFO_HELP}`;

const COMMANDS = { tail, replay, info } as const;

const isCommand = (name: string): name is keyof typeof COMMANDS => Object.hasOwn(COMMANDS, name);

/** Runs one command line; returns the exit status. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  // `pnpm ctp -- ...` may pass the separator through.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const [area, command, ...rest] = args;
  try {
    if (area === undefined || area === '--help' || area === '-h' || area === 'help') {
      io.stdout.write(HELP);
      return area === undefined ? EXIT.usage : EXIT.ok;
    }
    if (area !== 'notifications') throw new UsageError(`unknown command: ${area}`);
    if (command === undefined || command === '--help' || command === '-h') {
      io.stdout.write(NOTIFICATIONS_HELP);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (!isCommand(command)) throw new UsageError(`unknown command: notifications ${command}`);
    return await COMMANDS[command](rest, io);
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: Io): number {
  // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
  const parseError =
    error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
  if (error instanceof UsageError || parseError) {
    io.stderr.write(`ctp: ${error.message}\nRun \`ctp --help\` for usage.\n`);
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    io.stderr.write(`ctp: ${error.message}\n`);
    return EXIT.config;
  }
  if (error instanceof RedisUnavailableError) {
    io.stderr.write(`ctp: ${error.message}\n`);
    return EXIT.unavailable;
  }
  io.stderr.write(`ctp: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT.failure;
}

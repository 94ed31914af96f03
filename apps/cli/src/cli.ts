import { ConfigError } from '@ctp/core/config';
import {
  BATCH_HELP,
  items as batchItems,
  status as batchStatus,
  submit as batchSubmit,
} from './batch/batch.ts';
import { EXIT, type Io, UsageError } from './io.ts';
import { REENCRYPT_HELP, reencrypt } from './keys/reencrypt.ts';
import { INFO_HELP, info } from './notifications/info.ts';
import { REPLAY_HELP, replay } from './notifications/replay.ts';
import { TAIL_HELP, tail } from './notifications/tail.ts';
import { reconcile } from './reconcile.ts';
import { RedisUnavailableError } from './redis.ts';
import { SCAN_PANS_HELP, scanPans } from './security/scan-pans.ts';

export const HELP = `Usage: ctp <command> [options]

Commands:
  notifications tail     print notifications as they are appended (Ctrl-C to stop)
  notifications replay   print the notifications kept since a time or stream id, then exit
  notifications info     the stream's retention and its consumer groups (lag, pending, missed)
  security scan-pans     look for card numbers in logs, Redis and the database (exit 1 if any)
  keys reencrypt         move every stored PAN onto the current PAN_ENCRYPTION_KEY
  batch submit           send a portfolio file (CSV or NDJSON) and follow its progress
  batch status           a batch's status and counts
  batch items            a batch's items, e.g. the failed ones as a CSV to submit again
  reconcile              compare entities with the network and repair drift (--entity ID, --dry-run)

Run \`ctp notifications <command> --help\` for a command's options.

Environment: REDIS_URL [redis://127.0.0.1:6379], NOTIFICATION_STREAM [m2p.notification.all]
`;

const NOTIFICATIONS_HELP = `Usage: ctp notifications <tail|replay|info> [options]\n\n${TAIL_HELP}\n${REPLAY_HELP}\n${INFO_HELP}`;

type Command = (args: readonly string[], io: Io) => Promise<number>;

/** Command areas: each a table of commands and the help that lists them. */
const AREAS: Record<string, { readonly help: string; readonly commands: Record<string, Command> }> = {
  notifications: { help: NOTIFICATIONS_HELP, commands: { tail, replay, info } },
  security: {
    help: `Usage: ctp security scan-pans [options]\n\n${SCAN_PANS_HELP}`,
    commands: { 'scan-pans': scanPans },
  },
  batch: { help: BATCH_HELP, commands: { submit: batchSubmit, status: batchStatus, items: batchItems } },
  keys: { help: `Usage: ctp keys reencrypt [options]\n\n${REENCRYPT_HELP}`, commands: { reencrypt } },
};

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
    // A command of its own, without an area.
    if (area === 'reconcile') return await reconcile(args.slice(1), io);
    const table = Object.hasOwn(AREAS, area) ? AREAS[area] : undefined;
    if (table === undefined) throw new UsageError(`unknown command: ${area}`);
    if (command === undefined || command === '--help' || command === '-h') {
      io.stdout.write(table.help);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    const handler = Object.hasOwn(table.commands, command) ? table.commands[command] : undefined;
    if (handler === undefined) throw new UsageError(`unknown command: ${area} ${command}`);
    return await handler(rest, io);
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

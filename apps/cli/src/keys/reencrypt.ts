import { parseArgs } from 'node:util';
import { createPanCipher } from '@ctp/core/cards';
import { envSchema } from '@ctp/core/config';
import { reencryptPans } from '@ctp/core/records';
import { createOrm } from '@ctp/db';
import { EXIT, type Io } from '../io.ts';

export const REENCRYPT_HELP = `Usage: ctp keys reencrypt [--batch <n>]

Key rotation for PANs at rest. Set the new key as PAN_ENCRYPTION_KEY and the old one(s) in
PAN_ENCRYPTION_PREVIOUS_KEYS (comma-separated) on every process, restart them, then run this:
it re-encrypts every card still under an older key, in small transactions, while the system
runs. When it reports nothing left to move, drop the old keys from PAN_ENCRYPTION_PREVIOUS_KEYS.

Options:
  --batch <n>  cards per transaction [500]
  -h, --help   this help

Environment: DATABASE_URL, PAN_ENCRYPTION_KEY, PAN_ENCRYPTION_PREVIOUS_KEYS
`;

const keysEnv = envSchema.pick({
  DATABASE_URL: true,
  PAN_ENCRYPTION_KEY: true,
  PAN_ENCRYPTION_PREVIOUS_KEYS: true,
});

export async function reencrypt(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      batch: { type: 'string', default: '500' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(REENCRYPT_HELP);
    return EXIT.ok;
  }
  const env = keysEnv.parse(
    Object.fromEntries(Object.entries(io.env).filter(([, v]) => v !== undefined && v !== '')),
  );
  const cipher = createPanCipher({
    current: env.PAN_ENCRYPTION_KEY,
    previous: env.PAN_ENCRYPTION_PREVIOUS_KEYS,
  });
  const orm = await createOrm({ databaseUrl: env.DATABASE_URL });
  try {
    const result = await reencryptPans(orm.em, cipher, Math.max(1, Number(values.batch) || 500));
    io.stdout.write(`re-encrypted ${result.reencrypted} cards onto key ${cipher.currentKeyId}\n`);
    if (result.unreadable.length > 0) {
      io.stderr.write(
        `${result.unreadable.length} cards are under a key that is not configured (kit pkeys: ${result.unreadable.join(', ')})\n`,
      );
      return EXIT.failure;
    }
    return EXIT.ok;
  } finally {
    await orm.close();
  }
}

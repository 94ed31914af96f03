import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const CLI = fileURLToPath(new URL('../../../apps/cli/src/main.ts', import.meta.url));
const run = promisify(execFile);

/**
 * The card-number scan of issue 8, over what the run left behind: every captured log line,
 * every key and value of the run's Redis, every column of the run's database but the encrypted
 * PAN. It is the product's own command (`ctp security scan-pans`), run as an operator would.
 */
export async function scanForPans(input: {
  databaseUrl: string;
  redisUrl: string;
  logDir: string;
}): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'security', 'scan-pans', '--logs', input.logDir], {
      env: { ...process.env, DATABASE_URL: input.databaseUrl, REDIS_URL: input.redisUrl },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { ok: true, output: stdout };
  } catch (error) {
    const output = (error as { stdout?: string; stderr?: string }).stdout ?? String(error);
    return { ok: false, output: `${output}${(error as { stderr?: string }).stderr ?? ''}` };
  }
}

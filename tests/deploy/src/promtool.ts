import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Where promtool is, or null. It comes with Debian's `prometheus` package, which `.ci/run`
 * installs; on a machine without it the promtool tests skip and say so, except in CI (`CI` set),
 * where a missing promtool is a failure rather than a silently weaker run.
 */
export async function findPromtool(): Promise<string | null> {
  const path = process.env.PROMTOOL ?? 'promtool';
  try {
    await run(path, ['--version']);
    return path;
  } catch {
    if (process.env.CI) {
      throw new Error(
        `promtool not found (${path}) although CI is set: .ci/run installs Debian's prometheus package`,
      );
    }
    return null;
  }
}

export const PROMTOOL_MISSING =
  "promtool is not installed (Debian's prometheus package: apt-get install prometheus; or set PROMTOOL)";

/** Runs promtool; resolves with its output whatever its exit code. */
export async function promtool(
  path: string,
  args: readonly string[],
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(path, [...args]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
    };
  }
}

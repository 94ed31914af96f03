import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

let found: Promise<string | null> | undefined;

/**
 * The promtool to run. It comes with Debian's `prometheus` package, which `.ci/run` installs; on
 * a machine without it the test skips and says so, except in CI (`CI` set), where a missing
 * promtool fails the test rather than passing a weaker run.
 */
export async function promtoolOrSkip(ctx: { skip(note?: string): never }): Promise<string> {
  const path = process.env.PROMTOOL ?? 'promtool';
  found ??= run(path, ['--version']).then(
    () => path,
    () => null,
  );
  const tool = await found;
  if (tool !== null) return tool;
  const missing = `promtool is not installed (${path}): Debian's prometheus package, or set PROMTOOL`;
  if (process.env.CI !== undefined) throw new Error(`${missing}; CI is set, and .ci/run installs it`);
  return ctx.skip(missing);
}

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

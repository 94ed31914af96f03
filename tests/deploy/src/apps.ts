import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { repoPath } from './files.ts';

export type AppName = 'api' | 'worker' | 'dashboard';

const PORT_VARIABLE: Record<AppName, string> = {
  api: 'API_PORT',
  worker: 'WORKER_PORT',
  dashboard: 'DASHBOARD_PORT',
};

export interface RunningApp {
  readonly name: AppName;
  readonly port: number;
  readonly output: string[];
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** The app's real entry point (`pnpm start:<app>`), as a process of its own on a free port. */
export async function startApp(name: AppName, env: Record<string, string>): Promise<RunningApp> {
  const child = spawn(process.execPath, [repoPath(`apps/${name}/src/main.ts`)], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env, [PORT_VARIABLE[name]]: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /"port":(\d+),"msg":"listening"/.exec(output.join(''));
      if (match?.[1]) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${output.join('')}`)));
  });
  return {
    name,
    port,
    output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Names that keep one run's queues and stream apart from every other run's on the same Redis. */
export function isolatedRedisNames(): { QUEUE_PREFIX: string; NOTIFICATION_STREAM: string } {
  const suffix = randomBytes(4).toString('hex');
  return { QUEUE_PREFIX: `{deploy-${suffix}}`, NOTIFICATION_STREAM: `deploy-notifications-${suffix}` };
}

/**
 * Metric families of a Prometheus text exposition, from its `# TYPE` lines, with the series
 * names each family has (a histogram's `_bucket`, `_sum` and `_count`).
 */
export function seriesNamesOf(exposition: string): Map<string, string> {
  const series = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [family, type] = [match[1] ?? '', match[2] ?? ''];
    const suffixes =
      type === 'histogram'
        ? ['_bucket', '_sum', '_count']
        : type === 'summary'
          ? ['', '_sum', '_count']
          : [''];
    for (const suffix of suffixes) series.set(`${family}${suffix}`, family);
  }
  return series;
}

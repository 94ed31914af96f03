import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const APPS = fileURLToPath(new URL('../../../apps/', import.meta.url));

export interface TracedProcess {
  readonly child: ChildProcess;
  readonly output: string[];
  /** SIGKILL: nothing is flushed, in-flight jobs are cut where they are. */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown, which exports the spans still buffered. */
  stop(): Promise<number | null>;
}

/**
 * An app's real entry point as `pnpm start` runs it: `node --import ./src/tracing.ts src/main.ts`.
 * Resolves once its log says it listens.
 */
export async function spawnTraced(
  app: 'api' | 'worker' | 'saas-sim',
  env: Record<string, string>,
): Promise<TracedProcess> {
  const child = spawn(
    process.execPath,
    ['--import', `${APPS}${app}/src/tracing.ts`, `${APPS}${app}/src/main.ts`],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join('').includes('"msg":"listening"')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`${app} exited with ${code}: ${output.join('')}`)));
  });
  return {
    child,
    output,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A port the kernel just handed out and released (the simulator must know the api's first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

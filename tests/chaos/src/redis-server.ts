import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { say } from './clock.ts';
import { SupervisedProcess } from './supervised-process.ts';

const run = promisify(execFile);

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 5_000 });
  return stdout.trim();
}

/**
 * The suite's own Redis, with the persistence production uses (append-only file, fsync every
 * second, no RDB snapshots), so a restart keeps what was acknowledged: queues, delayed jobs,
 * the notification stream and its dedupe keys. A shared developer Redis is never touched.
 */
export function redisServer(input: { port: number; dir: string; logDir: string; cwd: string }) {
  const server = new SupervisedProcess({
    name: 'redis',
    command: 'redis-server',
    args: [
      '--port',
      String(input.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      input.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ],
    env: {},
    cwd: input.cwd,
    logDir: input.logDir,
    // PING answers LOADING while the AOF is replayed: ready means PONG.
    ready: async () => (await redisCli(input.port, 'ping')) === 'PONG',
  });
  return {
    process: server,
    url: `redis://127.0.0.1:${input.port}`,
    /** `SHUTDOWN` (the AOF is flushed), a pause with Redis away, then the same port and dir again. */
    async restart(downMs: number): Promise<void> {
      say(`redis: SHUTDOWN, down for ${downMs} ms`);
      await server.stopBy(async () => {
        await redisCli(input.port, 'shutdown').catch(() => '');
      });
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await server.start();
      say('redis: back (AOF replayed)');
    },
  };
}

export type RedisServer = ReturnType<typeof redisServer>;

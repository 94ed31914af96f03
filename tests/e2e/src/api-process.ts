import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@ctp/core/config';

const API_MAIN = fileURLToPath(new URL('../../../apps/api/src/main.ts', import.meta.url));
const KEY = loadConfig({}).API_KEYS[0]?.key ?? '';

/** The real api entry point as a separate process on a free port, to be killed (SIGKILL) at will. */
export async function spawnApi(env: Record<string, string>) {
  const child = spawn(process.execPath, [API_MAIN], {
    env: { ...process.env, ...env, API_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /"port":(\d+),"msg":"listening"/.exec(buffer);
      if (match?.[1]) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`api exited with ${code}`)));
  });
  return {
    async call(method: string, path: string, body?: unknown) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

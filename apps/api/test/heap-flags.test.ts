import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The api and the worker run with bounded heaps (why: `apps/api/src/main.ts`): Node's defaults on
 * a large host let each sit at 400-500 MB of RSS for about 50 MB of live objects. Every way of
 * starting them carries the same flags: `pnpm start` (which the bench reads), the image's
 * default command and docker-compose, with the tracing preload (`--import`) that every way of
 * starting them also carries.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');
const FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=192'];

describe('the heap limits of the api and the worker', () => {
  it.each(['api', 'worker'])('are in the start script of %s', (app) => {
    const manifest = JSON.parse(read(`apps/${app}/package.json`)) as { scripts: { start: string } };
    expect(manifest.scripts.start).toBe(`node ${FLAGS.join(' ')} --import ./src/tracing.ts src/main.ts`);
  });

  it('are in the Dockerfile and docker-compose', () => {
    // Compared without whitespace or trailing commas: the formatter may break a long command.
    const bare = (text: string) => text.replace(/\s+/g, '').replaceAll(',]', ']');
    const command = (app: string) =>
      JSON.stringify([
        'node',
        ...FLAGS,
        '--import',
        `./apps/${app}/src/tracing.ts`,
        `apps/${app}/src/main.ts`,
      ]);
    expect(bare(read('Dockerfile'))).toContain(`CMD${command('api')}`);
    const compose = bare(read('docker-compose.yml'));
    expect(compose).toContain(`command:${command('api')}`);
    expect(compose).toContain(`command:${command('worker')}`);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './helpers.ts';

const run = promisify(execFile);
const REDOCLY = join(
  dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')),
  'bin/cli.js',
);

let api: TestApi;
let dir: string;
// Stands in for the internet: the linter runs with every outgoing HTTP(S) request sent here.
let proxy: Server;
const proxied: string[] = [];

beforeAll(async () => {
  api = await startTestApi();
  dir = await mkdtemp(join(tmpdir(), 'openapi-lint-'));
  proxy = createServer((request, response) => {
    proxied.push(`${request.method} ${request.url}`);
    response.writeHead(502).end();
  });
  proxy.on('connect', (request, socket) => {
    proxied.push(`CONNECT ${request.url}`);
    socket.destroy();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
  await new Promise((resolve) => proxy.close(resolve));
});

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

describe('/openapi.json', () => {
  it('passes `redocly lint` with the recommended rules: no error, no warning', async () => {
    const answer = await api.call('GET', '/openapi.json', { as: null });
    expect(answer.status).toBe(200);
    await writeFile(join(dir, 'openapi.json'), answer.text);
    // The recommended rules, and no telemetry: the config says so as well as the environment.
    await writeFile(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\ntelemetry: off\n');
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // `redocly lint` exits 1 on an error; the JSON report says what either way.
    const { stdout } = await run(
      process.execPath,
      [REDOCLY, 'lint', 'openapi.json', '--config', 'redocly.yaml', '--format', 'json'],
      {
        cwd: dir,
        env: {
          ...process.env,
          REDOCLY_TELEMETRY: 'off',
          REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
          NODE_USE_ENV_PROXY: '1',
          HTTP_PROXY: proxyUrl,
          HTTPS_PROXY: proxyUrl,
          NO_PROXY: '',
        },
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    const report = JSON.parse(stdout) as LintReport;
    const problems = report.problems.map(
      (p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`,
    );
    expect(problems).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
    // The linter ran offline: nothing it did reached for the network.
    expect(proxied).toEqual([]);
  });
});

describe('/docs', () => {
  it('is served with everything it loads from the api itself, under a CSP that allows no other origin', async () => {
    const page = await fetch(`${api.baseUrl}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const references = [...html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1] ?? '');
    expect(references.length).toBeGreaterThanOrEqual(3);
    for (const reference of references) {
      const url = new URL(reference, `${api.baseUrl}/docs`);
      expect(url.origin, reference).toBe(api.baseUrl);
      const asset = await fetch(url);
      expect(asset.status, reference).toBe(200);
      const body = await asset.text();
      expect(body.length, reference).toBeGreaterThan(0);
      if (reference.endsWith('.css')) expect(body, reference).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    }
    // Every script is a file of ours: the CSP leaves inline scripts out.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc=/);
      expect(body?.trim()).toBe('');
    }
    // The Swagger UI it starts reads our document, and does not send it to a public validator.
    expect(html).toContain('data-url="/openapi.json"');
    const start = await (await fetch(`${api.baseUrl}/docs/assets/start.js`)).text();
    expect(start).toContain('url: root.dataset.url');
    expect(start).toContain('validatorUrl: null');

    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((d) => d[0])
        .map(([name, ...sources]) => [name ?? '', sources]),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    for (const [name, sources] of directives)
      for (const source of sources)
        expect(["'self'", "'none'", 'data:'], `${name} ${source}`).toContain(source);
  });

  it('answers 404 for an asset it does not have, and nothing from outside its folder', async () => {
    for (const path of ['/docs/assets/nope.js', '/docs/assets/..%2Fpackage.json', '/docs/assets/index.html'])
      expect((await fetch(`${api.baseUrl}${path}`)).status, path).toBe(404);
  });
});

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@ctp/cli/src/cli.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../src/harness.ts';

// `ctp batch`: submit a CSV with a live progress bar until the batch ends, read its status, and
// write its failed items as a CSV that `submit` takes back.

let p: Pipeline;
let dir: string;

beforeAll(async () => {
  p = await startPipeline({ env: { BATCH_FEED_INTERVAL_MS: '100' } });
  dir = await mkdtemp(join(tmpdir(), 'ctp-batch-cli-'));
});
afterAll(async () => {
  await p.close();
});

async function ctp(...args: string[]) {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { CTP_API_URL: p.apiUrl, CTP_API_KEY: 'dev-key-enbdtabby' },
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

describe('ctp batch', () => {
  it('submits a CSV with progress, lists the failed items as a CSV, and takes that file back', async () => {
    await p.customer('cli-1', ['cli-1-k']);
    await p.customer('cli-2', ['cli-2-k']);
    const csv = join(dir, 'portfolio.csv');
    await writeFile(csv, 'entityId,kitNo\ncli-1,cli-1-k\ncli-2,cli-2-k\ncli-3,cli-3-k\n');

    const first = await ctp('batch', 'submit', csv, '--external-id', 'cli-run-1', '--interval-ms', '200');
    expect(first.err).toBe('');
    expect(first.code).toBe(1);
    expect(first.out).toMatch(/batch \S+ accepted: 3 items, 1 rejected/);
    expect(first.out).toMatch(/batch \[.*\] \d+\/3 \| done \d+ \| failed \d+ \| [\d.]+\/s \| ETA/);
    expect(first.out).toMatch(/COMPLETED: 2 succeeded, 0 failed, 0 skipped, 1 rejected, 0 cancelled/);
    const batchId = /batch (\S+) accepted/.exec(first.out)?.[1] ?? '';

    const status = await ctp('batch', 'status', batchId);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ batchId, status: 'COMPLETED', counts: { rejected: 1 } });

    const failed = join(dir, 'failed.csv');
    const items = await ctp('batch', 'items', batchId, '--status', 'REJECTED', '--csv', '--out', failed);
    expect(items.code).toBe(0);
    expect(items.out).toContain(`1 items written to ${failed}`);
    const text = await readFile(failed, 'utf8');
    expect(text.split('\n')[0]).toBe('entityId,kitNo,status,reason,error');
    expect(text).toContain('cli-3,cli-3-k,REJECTED,ENTITY_NOT_FOUND');

    // The customer exists now: the failed-items file goes back in as it is.
    await p.customer('cli-3', ['cli-3-k']);
    const again = await ctp('batch', 'submit', failed, '--interval-ms', '200');
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/COMPLETED: 1 succeeded, 0 failed, 0 skipped, 0 rejected, 0 cancelled/);

    const noWait = await ctp('batch', 'submit', csv, '--no-wait');
    expect(noWait.code).toBe(0);
    expect(noWait.out).not.toContain('COMPLETED');
  });

  it('refuses a file that is neither CSV nor NDJSON, and a run without an API key', async () => {
    expect((await ctp('batch', 'submit', join(dir, 'x.txt'))).code).toBe(64);
    const code = await run(['batch', 'status', 'x'], {
      stdout: { write: () => true },
      stderr: { write: () => true },
      env: {},
      signal: new AbortController().signal,
    });
    expect(code).toBe(64);
  });
});

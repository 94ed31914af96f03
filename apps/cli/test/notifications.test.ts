import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { findPans } from '@ctp/core/cards';
import {
  buildFailureNotification,
  buildSuccessNotification,
  NotificationPublisher,
} from '@ctp/core/notifications';
import { createRedis } from '@ctp/core/queues';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = createRedis(REDIS_URL);
const suffix = randomUUID().slice(0, 8);
let streams = 0;
const newStream = () => `test:cli:${suffix}:${++streams}`;
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const PAN = '4111111111111111';

afterAll(async () => {
  const keys = await redis.keys(`*test:cli:${suffix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** Runs the CLI in-process with captured output; `stop()` is Ctrl-C. */
function start(argv: string[], stream: string) {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const exit = run(argv, {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    env: { REDIS_URL, NOTIFICATION_STREAM: stream, LOG_LEVEL: 'warn' },
    signal: controller.signal,
  });
  const lines = () =>
    out
      .join('')
      .split('\n')
      .filter((line) => line !== '');
  return { exit, lines, stderr: () => err.join(''), stop: () => controller.abort() };
}

function success() {
  return buildSuccessNotification({
    tenant: 'ENBDTABBY',
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    operationId: randomUUID(),
    entityId: randomUUID(),
    kitNo: '100000011561',
    requestTraceId: randomUUID(),
    ctpEntityStatus: 'ACTIVE',
    ctpKitStatus: 'ACTIVE',
    clickToPayCustomerId: randomUUID(),
    clickToPayPaymentInstrumentId: randomUUID(),
  });
}

async function publish(
  stream: string,
  payloads: unknown[],
): Promise<{ id: string; notificationId: string }[]> {
  const publisher = new NotificationPublisher(redis, { stream, maxLength: 10_000, dedupeTtlSeconds: 60 });
  const entries = payloads.map((payload) => ({
    notificationId: randomUUID(),
    payload: JSON.stringify(payload),
  }));
  await publisher.publish(entries);
  const ids = await redis.xrevrange(stream, '+', '-', 'COUNT', entries.length);
  return ids.reverse().map(([id], i) => ({ id, notificationId: entries[i]?.notificationId ?? '' }));
}

/** Card numbers in `output`, the stream ids (left intact on purpose, see format.ts) aside. */
const pansIn = (output: string, streamIds: readonly string[]) =>
  findPans(streamIds.reduce((text, id) => text.replaceAll(id, '<id>'), output));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ctp notifications', () => {
  it('explains itself with --help and refuses unknown commands and options with status 64', async () => {
    const help = start(['--help'], newStream());
    expect(await help.exit).toBe(0);
    expect(help.lines().join('\n')).toMatch(/notifications tail .*\n.*notifications replay/);
    const tailHelp = start(['--', 'notifications', 'tail', '--help'], newStream());
    expect(await tailHelp.exit).toBe(0);
    expect(tailHelp.lines()[0]).toBe(
      'Usage: ctp notifications tail [--group <name>] [--from <id|time>] [--json]',
    );

    const unknown = start(['notifications', 'tail', '--grup', 'x'], newStream());
    expect(await unknown.exit).toBe(64);
    expect(unknown.stderr()).toMatch(/Unknown option '--grup'/);
    const badSince = start(['notifications', 'replay', '--since', 'last tuesday'], newStream());
    expect(await badSince.exit).toBe(64);
  });

  it('replays history as JSON lines from a stream id or a time, then exits', async () => {
    const stream = newStream();
    const failure = buildFailureNotification({
      tenant: 'ENBDTABBY',
      event: 'CTP_ADD_KIT',
      operationId: randomUUID(),
      entityId: 'e-1',
      kitNo: 'k-1',
      errorMessage: 'Request Rejected',
      errorDetails: `the SaaS echoed ${PAN}`,
    });
    const published = await publish(stream, [success(), failure, success()]);

    const all = start(['notifications', 'replay', '--since', '0', '--json'], stream);
    expect(await all.exit).toBe(0);
    const lines = all.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.streamId, line.notificationId])).toEqual(
      published.map((p) => [p.id, p.notificationId]),
    );
    expect(lines[1]?.payload).toMatchObject({
      serverNotifyData: { message: 'CTP FAILURE: Request Rejected' },
    });
    expect(all.lines().join('\n')).not.toContain(PAN);
    expect(
      pansIn(
        all.lines().join('\n'),
        published.map((p) => p.id),
      ),
    ).toEqual([]);

    const fromSecond = start(
      ['notifications', 'replay', '--since', published[1]?.id ?? '', '--json'],
      stream,
    );
    expect(await fromSecond.exit).toBe(0);
    expect(fromSecond.lines()).toHaveLength(2);
    const recent = start(['notifications', 'replay', '--since', '1h'], stream);
    expect(await recent.exit).toBe(0);
    expect(recent.lines()).toHaveLength(3);
  });

  it('prints entries that are not notifications as INVALID, scrubbed, stream ids intact', async () => {
    const stream = newStream();
    const id = await redis.xadd(
      stream,
      '*',
      'notificationId',
      'n-1',
      'payload',
      JSON.stringify({ cardNumber: PAN, note: `card ${PAN}`, [PAN]: Number(PAN) }),
    );
    if (id === null) throw new Error('XADD appended nothing');
    const human = start(['notifications', 'replay', '--since', '0'], stream);
    expect(await human.exit).toBe(0);
    const json = start(['notifications', 'replay', '--since', '0', '--json'], stream);
    expect(await json.exit).toBe(0);

    expect(human.lines()[0]).toContain(` ${id} INVALID reason="payload does not match the success schema`);
    const line = JSON.parse(json.lines()[0] ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ streamId: id, notificationId: 'n-1', invalid: expect.any(String) });
    for (const output of [human.lines().join('\n'), json.lines().join('\n')]) {
      expect(output).not.toContain(PAN);
      expect(pansIn(output, [id])).toEqual([]);
    }
  });

  it('tails new entries without a group, and stops on Ctrl-C', async () => {
    const stream = newStream();
    const [first] = await publish(stream, [success()]);
    const tail = start(['notifications', 'tail', '--from', first?.id ?? '', '--json'], stream);
    await until(() => tail.lines().length === 1);
    const more = await publish(stream, [success(), success()]);
    await until(() => tail.lines().length === 3);
    tail.stop();
    expect(await tail.exit).toBe(0);
    expect(tail.lines().map((line) => (JSON.parse(line) as { streamId: string }).streamId)).toEqual([
      first?.id,
      ...more.map((entry) => entry.id),
    ]);
    // A plain reader leaves no trace in Redis.
    expect(await redis.xinfo('GROUPS', stream)).toEqual([]);
  });

  it('tails as a consumer of a group, acknowledging what it printed', async () => {
    const stream = newStream();
    const tail = start(['notifications', 'tail', '--group', 'ops', '--from', '0'], stream);
    const published = await publish(stream, [success(), success()]);
    await until(() => tail.lines().length === 2);
    tail.stop();
    expect(await tail.exit).toBe(0);
    expect(tail.lines().map((line) => line.split(' ')[1])).toEqual(published.map((p) => p.id));
    expect(Number((await redis.xpending(stream, 'ops'))[0])).toBe(0);
  });

  it('runs as `node src/main.ts`: exit status, stdout, and a graceful stop on SIGINT', async () => {
    const stream = newStream();
    await publish(stream, [success()]);
    const child = spawn(
      process.execPath,
      [MAIN, 'notifications', 'tail', '--group', 'ops', '--from', '0', '--json'],
      {
        env: { ...process.env, REDIS_URL, NOTIFICATION_STREAM: stream },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await until(() => out.includes('\n'), 10_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      notificationId: expect.any(String),
      payload: expect.any(Object),
    });
    expect(Number((await redis.xpending(stream, 'ops'))[0])).toBe(0);
  });
});

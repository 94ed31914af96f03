import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { findPans } from '../cards/pan.ts';
import { createLogger } from '../logging/logger.ts';
import { createRedis } from '../queues/redis.ts';
import {
  NotificationConsumer,
  type NotificationConsumerOptions,
  type ReceivedNotification,
} from './consumer.ts';
import { readDeadLetters } from './consumer-dead-letter.ts';
import { findMissedEntries, inspectNotificationStream, type MissedEntries } from './inspect.ts';
import { buildFailureNotification, buildSuccessNotification } from './payloads.ts';
import { NotificationPublisher } from './publisher.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = createRedis(REDIS_URL);
// Every key of this file carries the suffix: files run in parallel against one Redis.
const suffix = randomUUID().slice(0, 8);
let streams = 0;
const newStream = () => `test:notifications:${suffix}:${++streams}`;

const consumers: NotificationConsumer[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
});

afterAll(async () => {
  const keys = await redis.keys(`*test:notifications:${suffix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

function lines() {
  const out: string[] = [];
  return {
    logger: createLogger({
      name: 'test',
      level: 'debug',
      destination: { write: (l: string) => void out.push(l) },
    }),
    text: () => out.join(''),
  };
}

/** A consumer with test timings: claims after 200 ms idle, looks every 50 ms. */
function consumer(
  stream: string,
  handler: NotificationConsumerOptions['handler'],
  options: Partial<NotificationConsumerOptions> = {},
): NotificationConsumer {
  const created = new NotificationConsumer({
    redis,
    stream,
    group: 'crm',
    startFrom: '0',
    claimIdleMs: 200,
    claimIntervalMs: 50,
    blockMs: 200,
    logger: createLogger({ name: 'test', level: 'silent' }),
    handler,
    ...options,
  });
  consumers.push(created);
  return created;
}

function success(entityId = randomUUID()) {
  return buildSuccessNotification({
    tenant: 'ENBDTABBY',
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    operationId: randomUUID(),
    entityId,
    kitNo: '100000011561',
    requestTraceId: randomUUID(),
    ctpEntityStatus: 'ACTIVE',
    ctpKitStatus: 'ACTIVE',
    clickToPayCustomerId: randomUUID(),
    clickToPayPaymentInstrumentId: randomUUID(),
  });
}

/** Appends through the real publisher; returns the notification ids in order. */
async function publish(stream: string, count: number): Promise<string[]> {
  const publisher = new NotificationPublisher(redis, { stream, maxLength: 10_000, dedupeTtlSeconds: 60 });
  const entries = Array.from({ length: count }, () => ({
    notificationId: randomUUID(),
    payload: JSON.stringify(success()),
  }));
  await publisher.publish(entries);
  return entries.map((entry) => entry.notificationId);
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pendingCount = async (stream: string, group = 'crm') => {
  const summary = await redis.xpending(stream, group);
  return Number(summary[0]);
};

describe('NotificationConsumer', () => {
  it('shares the entries of one group between two consumers, each handled once', async () => {
    const stream = newStream();
    const handledBy = new Map<string, string[]>();
    const handler = (name: string) => async (n: ReceivedNotification) => {
      handledBy.set(n.notificationId, [...(handledBy.get(n.notificationId) ?? []), name]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await consumer(stream, handler('a'), { concurrency: 4 }).start();
    await consumer(stream, handler('b'), { concurrency: 4 }).start();

    const ids = await publish(stream, 40);

    await until(() => handledBy.size === 40);
    await until(async () => (await pendingCount(stream)) === 0);
    expect([...handledBy.keys()].sort()).toEqual([...ids].sort());
    expect([...handledBy.values()].every((names) => names.length === 1)).toBe(true);
    const byA = [...handledBy.values()].filter(([name]) => name === 'a').length;
    expect(byA).toBeGreaterThan(0);
    expect(byA).toBeLessThan(40);
  });

  it("claims a killed consumer's unacknowledged entries and handles them in another", async () => {
    const stream = newStream();
    await redis.xgroup('CREATE', stream, 'crm', '0', 'MKSTREAM');
    const ids = await publish(stream, 3);
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./consumer-crash-child.ts', import.meta.url)),
        REDIS_URL,
        stream,
        'crm',
        'doomed',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));

    await until(() => output.split('\n').filter((line) => line.startsWith('read ')).length === 3, 10_000);
    child.kill('SIGKILL');
    await exited;
    expect((await redis.xpending(stream, 'crm', '-', '+', 10, 'doomed')).length).toBe(3);

    const handled: ReceivedNotification[] = [];
    await consumer(stream, (n) => void handled.push(n)).start();

    await until(() => handled.length === 3);
    await until(async () => (await pendingCount(stream)) === 0);
    expect(handled.map((n) => n.notificationId).sort()).toEqual([...ids].sort());
    expect(handled.every((n) => n.deliveries === 2)).toBe(true);
  });

  it('resumes its own unacknowledged entries at once when restarted under the same name', async () => {
    const stream = newStream();
    await redis.xgroup('CREATE', stream, 'crm', '0', 'MKSTREAM');
    const ids = await publish(stream, 2);
    // The previous life of "replica-1" read both and died before acknowledging.
    await redis.xreadgroup('GROUP', 'crm', 'replica-1', 'COUNT', 10, 'STREAMS', stream, '>');

    const handled: ReceivedNotification[] = [];
    // A claim idle time far beyond the test: only the restart path can pick them up in time.
    await consumer(stream, (n) => void handled.push(n), {
      consumer: 'replica-1',
      claimIdleMs: 60_000,
    }).start();

    await until(() => handled.length === 2);
    expect(handled.map((n) => n.notificationId)).toEqual(ids);
    expect(handled.map((n) => n.deliveries)).toEqual([2, 2]);
    await until(async () => (await pendingCount(stream)) === 0);
  });

  it('handles a notification appended twice once, in one consumer or across two', async () => {
    const stream = newStream();
    const payload = JSON.stringify(success());
    const notificationId = randomUUID();
    const handled: string[] = [];
    const handler = async (n: ReceivedNotification) => {
      handled.push(n.streamId);
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await consumer(stream, handler, { concurrency: 4 }).start();
    await consumer(stream, handler, { concurrency: 4 }).start();

    // The publisher's own dedupe key has expired, or the relay crashed past it: raw XADDs.
    for (let i = 0; i < 3; i++)
      await redis.xadd(stream, '*', 'notificationId', notificationId, 'payload', payload);

    await until(async () => (await redis.xlen(stream)) === 3 && (await pendingCount(stream)) === 0);
    // A copy left pending as "busy" is claimed after 200 ms and acknowledged as a duplicate.
    expect(handled).toHaveLength(1);
  });

  it('retries a handler that always throws, then moves the entry to the dead-letter stream', async () => {
    const stream = newStream();
    let calls = 0;
    const deadLetters: string[] = [];
    await consumer(
      stream,
      () => {
        calls += 1;
        throw new Error('CRM is down for card 4111111111111111');
      },
      { maxDeliveries: 3, onDeadLetter: (letter) => deadLetters.push(letter.streamId) },
    ).start();
    const [notificationId] = await publish(stream, 1);

    await until(() => deadLetters.length === 1);
    expect(calls).toBe(3);
    expect(await pendingCount(stream)).toBe(0);
    const [letter] = await readDeadLetters(redis, { stream, group: 'crm' });
    expect(letter).toMatchObject({ notificationId, deliveries: 3, group: 'crm' });
    expect(letter?.reason).toMatch(/^handler failed on delivery 3: CRM is down for card 411111\*+1111$/);
  });

  it('dead-letters entries that are not notifications, with the reason, and keeps consuming', async () => {
    const stream = newStream();
    const log = lines();
    const handled: ReceivedNotification[] = [];
    await consumer(stream, (n) => void handled.push(n), { logger: log.logger }).start();
    const unknownField = { ...success(), pan: '4111111111111111' };
    const failure = buildFailureNotification({
      tenant: 'ENBDTABBY',
      event: 'CTP_ADD_KIT',
      operationId: randomUUID(),
      entityId: 'e-1',
      kitNo: 'k-1',
      errorMessage: 'Conflict',
      errorDetails: 'already enrolled',
    });
    await redis.xadd(stream, '*', 'notificationId', 'n-json', 'payload', '{not json');
    await redis.xadd(stream, '*', 'notificationId', 'n-pan', 'payload', JSON.stringify(unknownField));
    await redis.xadd(stream, '*', 'payload', JSON.stringify(success()));
    await redis.xadd(stream, '*', 'notificationId', 'n-ok', 'payload', JSON.stringify(failure));

    await until(() => handled.length === 1);
    await until(async () => (await pendingCount(stream)) === 0);
    expect(handled[0]).toMatchObject({ notificationId: 'n-ok', kind: 'failure', payload: failure });
    const letters = await readDeadLetters(redis, { stream, group: 'crm' });
    expect(letters.map(({ notificationId, reason }) => ({ notificationId, reason }))).toEqual([
      { notificationId: 'n-json', reason: 'payload is not valid JSON' },
      {
        notificationId: 'n-pan',
        reason: 'payload does not match the success schema: Unrecognized key: "pan"',
      },
      { notificationId: null, reason: 'missing field notificationId' },
    ]);
    // The dead-letter stream keeps the payload as it came; the logs never show it.
    expect(letters[1]?.payload).toBe(JSON.stringify(unknownField));
    expect(log.text()).toContain('entry moved to the dead-letter stream');
    expect(findPans(log.text())).toEqual([]);
  });

  it('handles a notification whatever its traceparent field holds: the trace is no reason to refuse it', async () => {
    const stream = newStream();
    const handled: string[] = [];
    await consumer(stream, (n) => void handled.push(n.notificationId)).start();
    const payload = JSON.stringify(success());
    const traceparents = [
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7',
      'not a traceparent',
      'x'.repeat(10_000),
      '',
    ];
    for (const [i, traceparent] of traceparents.entries()) {
      await redis.xadd(
        stream,
        '*',
        'notificationId',
        `n-${i}`,
        'payload',
        payload,
        'traceparent',
        traceparent,
      );
    }

    await until(() => handled.length === traceparents.length);
    await until(async () => (await pendingCount(stream)) === 0);
    expect(handled.sort()).toEqual(traceparents.map((_, i) => `n-${i}`).sort());
    expect(await readDeadLetters(redis, { stream, group: 'crm' })).toEqual([]);
  });
  it('holds at most `concurrency` entries at once and finishes them on stop', async () => {
    const stream = newStream();
    let active = 0;
    let peak = 0;
    let finished = 0;
    const release = Promise.withResolvers<void>();
    const slow = consumer(
      stream,
      async () => {
        active += 1;
        peak = Math.max(peak, active);
        await release.promise;
        active -= 1;
        finished += 1;
      },
      { concurrency: 2 },
    );
    await slow.start();
    await publish(stream, 6);
    await until(() => active === 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(peak).toBe(2);
    // Only the two being handled were read: the rest wait in the stream for someone else.
    expect(await pendingCount(stream)).toBe(2);

    const stopped = slow.stop();
    release.resolve();
    await stopped;
    expect(finished).toBe(2);
    expect(await pendingCount(stream)).toBe(0);
    const consumersLeft = await redis.xinfo('CONSUMERS', stream, 'crm');
    expect(consumersLeft).toEqual([]);
  });

  it('reports a group that fell behind retention: entries trimmed before it read them', async () => {
    const stream = newStream();
    await redis.xgroup('CREATE', stream, 'crm', '0', 'MKSTREAM');
    await publish(stream, 3);
    await redis.xreadgroup('GROUP', 'crm', 'old', 'COUNT', 2, 'STREAMS', stream, '>');
    await redis.xack(stream, 'crm', ...(await redis.xrange(stream, '-', '+', 'COUNT', 2)).map(([id]) => id));
    await publish(stream, 4);
    await redis.xtrim(stream, 'MAXLEN', 3); // keeps the last 3: entries 3 and 4 of 7 are gone unread

    const state = await inspectNotificationStream(redis, stream);
    expect(state && findMissedEntries(state, 'crm')).toMatchObject({ group: 'crm', count: 2 });

    const missed: MissedEntries[] = [];
    const handled: string[] = [];
    await consumer(stream, (n) => void handled.push(n.streamId), {
      onMissed: (m) => missed.push(m),
    }).start();
    await until(() => handled.length === 3);
    expect(missed).toEqual([expect.objectContaining({ stream, group: 'crm', count: 2 })]);
  });
});

import type { Redis } from 'ioredis';
import { parseEntries } from './stream-replies.ts';

/**
 * The dead-letter stream of one consumer group: entries the group gave up on, with the reason.
 * One per group, because whether an entry can be handled depends on the group's handler.
 * The name carries the notification stream in a hash tag so it shares the stream's slot:
 * the copy to the dead-letter stream and the XACK of the original run in one MULTI, on
 * Redis Cluster too. Inspect it with `XRANGE '{m2p.notification.all}:dead-letter:<group>' - +`.
 */
export function deadLetterStreamName(stream: string, group: string): string {
  return `{${stream}}:dead-letter:${group}`;
}

export interface DeadLetter {
  /** The entry's id in the notification stream. */
  readonly streamId: string;
  readonly notificationId: string | null;
  /** The entry's `payload` field exactly as it was appended (null if it had none). */
  readonly payload: string | null;
  /** Why the group gave up: a schema problem, or the handler's last error (scrubbed). */
  readonly reason: string;
  readonly deliveries: number;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly failedAt: string;
}

export function deadLetterFields(letter: DeadLetter): string[] {
  return [
    'streamId',
    letter.streamId,
    'notificationId',
    letter.notificationId ?? '',
    'payload',
    letter.payload ?? '',
    'reason',
    letter.reason,
    'deliveries',
    String(letter.deliveries),
    'stream',
    letter.stream,
    'group',
    letter.group,
    'consumer',
    letter.consumer,
    'failedAt',
    letter.failedAt,
  ];
}

export interface StoredDeadLetter extends DeadLetter {
  /** The letter's own id in the dead-letter stream. */
  readonly deadLetterId: string;
}

/** Reads a group's dead letters, oldest first. */
export async function readDeadLetters(
  redis: Redis,
  options: {
    readonly stream: string;
    readonly group: string;
    readonly start?: string;
    readonly count?: number;
  },
): Promise<StoredDeadLetter[]> {
  const reply = await redis.xrange(
    deadLetterStreamName(options.stream, options.group),
    options.start ?? '-',
    '+',
    'COUNT',
    options.count ?? 100,
  );
  return parseEntries(reply).map(({ id, fields }) => {
    const get = (name: string) => fields?.get(name) ?? '';
    return {
      deadLetterId: id,
      streamId: get('streamId'),
      notificationId: get('notificationId') || null,
      payload: fields?.has('payload') && get('payload') !== '' ? get('payload') : null,
      reason: get('reason'),
      deliveries: Number(get('deliveries')),
      stream: get('stream'),
      group: get('group'),
      consumer: get('consumer'),
      failedAt: get('failedAt'),
    };
  });
}

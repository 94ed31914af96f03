import type { Redis } from 'ioredis';
import { compareStreamIds } from './stream-ids.ts';
import { infoEntryId, infoNumber, infoText, parseInfo } from './stream-replies.ts';

/** What XINFO STREAM and XINFO GROUPS say about a stream, in one place. */
export interface NotificationStreamState {
  readonly stream: string;
  readonly length: number;
  /** The oldest entry still kept; older ones were trimmed (retention). Null on an empty stream. */
  readonly firstEntryId: string | null;
  readonly lastEntryId: string | null;
  /** Entries ever appended (Redis ≥ 7); with `length` it tells how many were trimmed. */
  readonly entriesAdded: number | null;
  readonly groups: readonly ConsumerGroupState[];
}

export interface ConsumerGroupState {
  readonly name: string;
  readonly consumers: number;
  /** Delivered to a consumer, not yet acknowledged. */
  readonly pending: number;
  /** The group's position: the last entry handed to any of its consumers. */
  readonly lastDeliveredId: string;
  /** Redis ≥ 7; null while Redis cannot tell (e.g. a new group, or after deletions). */
  readonly entriesRead: number | null;
  /** Entries not yet delivered to the group (Redis ≥ 7); null while Redis cannot tell. */
  readonly lag: number | null;
}

/** A consumer group fell behind the stream's retention: entries it never read were trimmed. */
export interface MissedEntries {
  readonly stream: string;
  readonly group: string;
  readonly lastDeliveredId: string;
  readonly firstEntryId: string;
  /** How many were trimmed unread, when Redis's counters allow telling; else null ("some may be"). */
  readonly count: number | null;
}

/** Null when the stream does not exist. */
export async function inspectNotificationStream(
  redis: Redis,
  stream: string,
): Promise<NotificationStreamState | null> {
  if ((await redis.exists(stream)) === 0) return null;
  const [streamReply, groupsReply] = await Promise.all([
    redis.xinfo('STREAM', stream),
    redis.xinfo('GROUPS', stream),
  ]);
  const info = parseInfo(streamReply);
  const groups = Array.isArray(groupsReply) ? groupsReply.map(parseInfo) : [];
  return {
    stream,
    length: infoNumber(info, 'length') ?? 0,
    firstEntryId: infoEntryId(info, 'first-entry'),
    lastEntryId: infoEntryId(info, 'last-entry'),
    entriesAdded: infoNumber(info, 'entries-added'),
    groups: groups.map((group) => ({
      name: infoText(group, 'name') ?? '',
      consumers: infoNumber(group, 'consumers') ?? 0,
      pending: infoNumber(group, 'pending') ?? 0,
      lastDeliveredId: infoText(group, 'last-delivered-id') ?? '0-0',
      entriesRead: infoNumber(group, 'entries-read'),
      lag: infoNumber(group, 'lag'),
    })),
  };
}

/**
 * Whether `group` missed entries to retention. The test is positional and works on any Redis:
 * the group's last-delivered id is older than the oldest entry kept, so whatever came between
 * was trimmed before the group read it. On Redis ≥ 7 the counters say how many:
 * (entries-added − length) were removed in all, entries-read of them reached the group.
 * A group that never read anything (`0-0`) and was created to start from the oldest entry
 * has missed nothing it asked for.
 * `MAXLEN` trimming does not move Redis 7.0's `max-deleted-entry-id`, so that field is not used.
 */
export function findMissedEntries(state: NotificationStreamState, group: string): MissedEntries | null {
  const found = state.groups.find((g) => g.name === group);
  if (!found || state.firstEntryId === null || found.lastDeliveredId === '0-0') return null;
  if (compareStreamIds(found.lastDeliveredId, state.firstEntryId) >= 0) return null;
  let count: number | null = null;
  if (found.entriesRead !== null && state.entriesAdded !== null) {
    count = state.entriesAdded - state.length - found.entriesRead;
    if (count <= 0) return null;
  }
  return {
    stream: state.stream,
    group,
    lastDeliveredId: found.lastDeliveredId,
    firstEntryId: state.firstEntryId,
    count,
  };
}

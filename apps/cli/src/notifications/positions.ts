import {
  compareStreamIds,
  type NotificationStreamState,
  sinceToStreamId,
  streamIdTime,
} from '@ctp/core/notifications';
import { UsageError } from '../io.ts';

/** A `--since`/`--from` value as the first stream id to print (inclusive). */
export function startId(option: string, value: string): string {
  const id = sinceToStreamId(value);
  if (id === undefined) {
    throw new UsageError(
      `${option} must be a stream id (1732000000000-0), an ISO time (2026-11-23T10:00:00Z) or a duration back (90s, 15m, 2h, 7d)`,
    );
  }
  return id;
}

/** A note for stderr when the range asked for starts before the oldest entry still kept. */
export function retentionNote(state: NotificationStreamState, from: string): string | undefined {
  if (state.firstEntryId === null || compareStreamIds(from, state.firstEntryId) >= 0) return undefined;
  const trimmed = state.entriesAdded === null ? null : state.entriesAdded - state.length;
  if (trimmed === 0) return undefined;
  return (
    `note: entries before ${state.firstEntryId} (${streamIdTime(state.firstEntryId).toISOString()}) are no longer kept ` +
    `(retention trimmed ${trimmed ?? 'some'}); starting at the oldest kept entry\n`
  );
}

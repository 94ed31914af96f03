/**
 * Readers of raw Redis stream replies. ioredis types them as `unknown`, so each reply is
 * checked here, in one place, instead of being cast at every call site.
 */

export interface StreamEntry {
  readonly id: string;
  /** The entry's fields; null when the entry was trimmed while it sat in a pending list. */
  readonly fields: ReadonlyMap<string, string> | null;
}

export interface PendingDetail {
  readonly id: string;
  readonly consumer: string;
  readonly idleMs: number;
  readonly deliveries: number;
}

export class UnexpectedReplyError extends Error {
  override readonly name = 'UnexpectedReplyError';
}

function list(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new UnexpectedReplyError(`${what}: expected an array`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number') return String(value);
  throw new UnexpectedReplyError(`${what}: expected a string`);
}

function fieldsOf(value: unknown): ReadonlyMap<string, string> | null {
  if (value === null) return null;
  const flat = list(value, 'entry fields');
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = text(flat[i], 'field name');
    // A field given twice keeps its first value, as the publisher writes each once.
    if (!fields.has(name)) fields.set(name, text(flat[i + 1], 'field value'));
  }
  return fields;
}

/** `[[id, [field, value, ...]], ...]`, as XRANGE, XAUTOCLAIM and each XREAD stream return. */
export function parseEntries(reply: unknown): StreamEntry[] {
  return list(reply, 'entries').map((item) => {
    const pair = list(item, 'entry');
    return { id: text(pair[0], 'entry id'), fields: fieldsOf(pair[1] ?? null) };
  });
}

/** XREAD / XREADGROUP on one stream: null on timeout, else `[[stream, entries]]`. */
export function parseReadReply(reply: unknown): StreamEntry[] {
  if (reply === null) return [];
  const streams = list(reply, 'read reply');
  return streams.flatMap((stream) => parseEntries(list(stream, 'stream')[1] ?? []));
}

/** XAUTOCLAIM: the next cursor, the claimed entries and (Redis ≥ 7) ids trimmed while pending. */
export function parseAutoclaimReply(reply: unknown): {
  cursor: string;
  entries: StreamEntry[];
  deletedIds: string[];
} {
  const parts = list(reply, 'XAUTOCLAIM reply');
  return {
    cursor: text(parts[0], 'XAUTOCLAIM cursor'),
    entries: parseEntries(parts[1] ?? []).filter((entry) => entry.fields !== null),
    deletedIds: list(parts[2] ?? [], 'XAUTOCLAIM deleted ids').map((id) => text(id, 'deleted id')),
  };
}

/** The extended form of XPENDING: `[[id, consumer, idle ms, deliveries], ...]`. */
export function parsePendingDetails(reply: unknown): PendingDetail[] {
  return list(reply, 'XPENDING reply').map((item) => {
    const row = list(item, 'XPENDING row');
    return {
      id: text(row[0], 'pending id'),
      consumer: text(row[1], 'pending consumer'),
      idleMs: Number(row[2]),
      deliveries: Number(row[3]),
    };
  });
}

/** XINFO replies are flat `[name, value, name, value, ...]` lists. */
export function parseInfo(reply: unknown): ReadonlyMap<string, unknown> {
  const flat = list(reply, 'XINFO reply');
  const info = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) info.set(text(flat[i], 'XINFO field'), flat[i + 1]);
  return info;
}

export function infoText(info: ReadonlyMap<string, unknown>, name: string): string | null {
  const value = info.get(name);
  return value === null || value === undefined ? null : text(value, name);
}

export function infoNumber(info: ReadonlyMap<string, unknown>, name: string): number | null {
  const value = info.get(name);
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** XINFO STREAM's first-entry / last-entry: an `[id, fields]` pair, or null on an empty stream. */
export function infoEntryId(info: ReadonlyMap<string, unknown>, name: string): string | null {
  const value = info.get(name);
  if (!Array.isArray(value)) return null;
  return text(value[0], name);
}

/**
 * Redis stream ids (`<ms>-<seq>`): comparison, their time, and the `--since` values people
 * type. Ids are compared as numbers because string order is wrong across digit counts.
 */

const STREAM_ID = /^(\d+)(?:-(\d+))?$/;

export function isStreamId(value: string): boolean {
  return STREAM_ID.test(value);
}

function parts(id: string): readonly [bigint, bigint] {
  const match = STREAM_ID.exec(id);
  if (!match) throw new RangeError(`not a stream id: ${id}`);
  return [BigInt(match[1] ?? '0'), BigInt(match[2] ?? '0')];
}

/** Negative, zero or positive, as `a` is before, equal to or after `b`. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = parts(a);
  const [bMs, bSeq] = parts(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

const MAX_SEQUENCE = 18_446_744_073_709_551_615n;

/**
 * The greatest id before `id`. XREAD returns entries after the id it is given; reading from
 * `previousStreamId(id)` includes `id` itself.
 */
export function previousStreamId(id: string): string {
  const [ms, seq] = parts(id);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_SEQUENCE}`;
  return '0-0';
}

/** When Redis appended the entry (the id's millisecond part, Redis's clock). */
export function streamIdTime(id: string): Date {
  return new Date(Number(parts(id)[0]));
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Turns a `--since` value into the first stream id to read: a stream id (`1732000000000-0`,
 * or bare milliseconds), an ISO 8601 time (`2026-11-23T10:00:00Z`), or a duration back from
 * `now` (`90s`, `15m`, `2h`, `7d`). Returns undefined for anything else.
 */
export function sinceToStreamId(value: string, now: Date = new Date()): string | undefined {
  if (isStreamId(value)) return value.includes('-') ? value : `${value}-0`;
  const duration = DURATION.exec(value);
  if (duration) {
    const unit = duration[2] as keyof typeof UNIT_MS;
    return `${Math.max(0, now.getTime() - Number(duration[1]) * UNIT_MS[unit])}-0`;
  }
  // Date.parse accepts far more than ISO 8601; require at least a full date first.
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : `${ms}-0`;
}

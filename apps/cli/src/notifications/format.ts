import { isSecretKey, REDACTED, scrubText } from '@ctp/core/logging';
import {
  type DecodedEntry,
  decodeNotificationEntry,
  isStreamId,
  type StreamEntry,
  streamIdTime,
} from '@ctp/core/notifications';

/**
 * How an entry is printed. Whatever reaches the terminal or a pipe goes through the logger's
 * scrubber: payloads carry no card data, but an entry that fails the schema may carry
 * anything, and errorDetails is free text from the SaaS.
 *
 * One exception, by decision: the stream id and the time derived from it are printed as
 * they are. A stream id is `<ms>-<seq>`, digits and a dash, which the PAN finder often takes
 * for a card number written with a dash (`1795566515238-1` is Luhn-valid); masked, it would
 * be useless to a script that passes it back to `--from`. It is Redis's counter, never card
 * data, and it is checked to be exactly that before it is left alone.
 */

const PREVIEW_CHARS = 300;
/** Stands for the stream id while a line is scrubbed; has no digits, so nothing masks it. */
const ID_TOKEN = '<<stream-id>>';

export interface Printable {
  readonly streamId: string;
  readonly decoded: DecodedEntry;
  readonly rawPayload: string | undefined;
}

export function printable(entry: StreamEntry): Printable {
  return {
    streamId: entry.id,
    decoded: decodeNotificationEntry(entry.fields),
    rawPayload: entry.fields?.get('payload'),
  };
}

/**
 * A JSON value with secret keys redacted and card numbers masked in strings, keys and numbers.
 * A number that looks like a card becomes a masked string, so the printed JSON stays valid.
 */
function scrubJson(value: unknown): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value === 'number') {
    const text = String(value);
    return scrubText(text) === text ? value : scrubText(text);
  }
  if (Array.isArray(value)) return value.map(scrubJson);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      scrubText(key),
      isSecretKey(key) ? REDACTED : scrubJson(item),
    ]),
  );
}

/** An invalid payload, scrubbed: parsed if it is JSON, else the text. */
function scrubbedPayload(raw: string | undefined): unknown {
  if (raw === undefined) return null;
  try {
    return scrubJson(JSON.parse(raw));
  } catch {
    return scrubText(raw);
  }
}

/** Scrubs `line` as a whole (what reaches it by any path), then puts the stream id back. */
function finish(line: string, streamId: string): string {
  const scrubbed = scrubText(line);
  return isStreamId(streamId)
    ? scrubbed.replace(ID_TOKEN, streamId)
    : scrubText(scrubbed.replace(ID_TOKEN, streamId));
}

/** One JSON object per line: `streamId`, `notificationId`, `payload` (and `invalid`, the reason, for an entry that is not a notification). */
export function formatJson({ streamId, decoded, rawPayload }: Printable): string {
  const line = decoded.ok
    ? { streamId: ID_TOKEN, notificationId: decoded.notificationId, payload: scrubJson(decoded.payload) }
    : {
        streamId: ID_TOKEN,
        notificationId: decoded.notificationId,
        payload: scrubbedPayload(rawPayload),
        invalid: decoded.reason,
      };
  return finish(JSON.stringify(line), streamId);
}

const pair = (name: string, value: string | null | undefined): string =>
  value === undefined || value === null
    ? ''
    : ` ${name}=${/[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value}`;

/** One line for people: time, stream id, outcome, event, then key=value pairs. */
export function formatHuman(printed: Printable): string {
  const { streamId } = printed;
  const time = isStreamId(streamId) ? `${streamIdTime(streamId).toISOString()} ` : '';
  return `${time}${finish(`${ID_TOKEN} ${describe(printed)}`, streamId)}`;
}

function describe({ decoded, rawPayload }: Printable): string {
  if (!decoded.ok) {
    const preview = JSON.stringify(scrubbedPayload(rawPayload)) ?? 'null';
    const cut = preview.length > PREVIEW_CHARS ? `${preview.slice(0, PREVIEW_CHARS)}…` : preview;
    return `INVALID${pair('reason', decoded.reason)}${pair('notification', decoded.notificationId)} payload=${cut}`;
  }
  const tail = pair('notification', decoded.notificationId);
  switch (decoded.kind) {
    case 'success': {
      const d = decoded.payload.serverNotifyData;
      return (
        `SUCCESS ${d.transactionType}${pair('tenant', d.tenant)}${pair('entity', d.entityId)}${pair('kit', d.kitNo)}` +
        `${pair('entityStatus', d.ctpEntityStatus)}${pair('kitStatus', d.ctpKitStatus)}${pair('trace', d.requestTraceId)}` +
        `${pair('operation', d.operationId)}${tail}`
      );
    }
    case 'failure': {
      const d = decoded.payload.serverNotifyData;
      return (
        `FAILED ${d.transactionType}${pair('tenant', d.tenant)}${pair('entity', d.entityId)}${pair('kit', d.kitNo)}` +
        `${pair('trace', d.requestTraceId)}${pair('operation', d.operationId)}${pair('message', d.message)}` +
        `${pair('details', d.errorDetails)}${tail}`
      );
    }
    case 'status_changed': {
      const d = decoded.payload.serverNotifyData;
      return (
        `STATUS_CHANGED${pair('tenant', d.tenant)}${pair('entity', d.entityId)}${pair('kit', d.kitNo)}` +
        `${pair('entityStatus', d.ctpEntityStatus)}${pair('kitStatus', d.ctpKitStatus)}${pair('at', d.occurredAt)}${tail}`
      );
    }
    case 'batch_completed': {
      const d = decoded.payload.serverNotifyData;
      const c = d.counts;
      return (
        `BATCH_COMPLETED ${d.status}${pair('tenant', d.tenant)}${pair('batch', d.batchId)}${pair('externalBatchId', d.externalBatchId)}` +
        `${pair('total', String(c.total))}${pair('succeeded', String(c.succeeded))}${pair('failed', String(c.failed))}` +
        `${pair('skipped', String(c.skipped))}${pair('rejected', String(c.rejected))}${pair('cancelled', String(c.cancelled))}${tail}`
      );
    }
  }
}

export function formatter(json: boolean): (entry: Printable) => string {
  return json ? formatJson : formatHuman;
}

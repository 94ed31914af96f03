import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_JSON_BATCH_BYTES,
  MAX_JSON_ITEMS,
  MAX_LINE_BYTES,
  MAX_NDJSON_BYTES,
  MAX_NDJSON_LINES,
  type RawBatchItem,
} from '@ctp/core/batches';
import { externalIdSchema } from '@ctp/core/contracts';
import { DomainError } from '@ctp/core/errors';
import { type ParsedTokenInfo, Tokenizer, TokenParser, TokenType } from '@streamparser/json';

/**
 * A batch upload is read to its end before anything of it is written: a body over the limits
 * (413) or malformed (400) leaves nothing behind, not even the records its first items carried.
 * Neither form is held in memory: the items are parsed as they stream in and kept, one JSON line
 * each, in a spool file that is unlinked as soon as it is opened (it vanishes with the process)
 * and encrypted with a key that exists only in this process's memory (the carried PANs never
 * reach the disk in clear). The store then reads the items back from the spool.
 */
export interface SpooledBatch {
  /** The body's `externalBatchId` (JSON only; NDJSON names it in the query). */
  readonly externalBatchId: string | undefined;
  /** The items in the order they came, each once. */
  readonly items: () => AsyncIterable<RawBatchItem>;
  readonly close: () => Promise<void>;
}

const tooLarge = (message: string) => new DomainError('PAYLOAD_TOO_LARGE', message);
const malformed = (message: string) =>
  new DomainError('VALIDATION_FAILED', 'request body is not valid JSON', [{ field: 'body', message }]);

/** Spooled lines are flushed to the file in writes of about this size. */
const WRITE_BYTES = 256 * 1024;

class Spool {
  readonly #key = randomBytes(32);
  readonly #iv = randomBytes(16);
  readonly #cipher = createCipheriv('aes-256-ctr', this.#key, this.#iv);
  #pending: string[] = [];
  #pendingBytes = 0;
  #size = 0;

  readonly #file: FileHandle;

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  static async create(): Promise<Spool> {
    const path = join(tmpdir(), `ctp-batch-${randomBytes(12).toString('hex')}.spool`);
    const file = await open(path, 'wx+', 0o600);
    await unlink(path);
    return new Spool(file);
  }

  async add(item: RawBatchItem): Promise<void> {
    const line = `${JSON.stringify(item)}\n`;
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= WRITE_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const bytes = this.#cipher.update(this.#pending.join(''), 'utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#file.write(bytes, 0, bytes.length, this.#size);
    this.#size += bytes.length;
  }

  async finish(externalBatchId: string | undefined): Promise<SpooledBatch> {
    await this.#flush();
    return {
      externalBatchId,
      items: () => this.#read(),
      close: () => this.close(),
    };
  }

  async *#read(): AsyncIterable<RawBatchItem> {
    const decipher = createDecipheriv('aes-256-ctr', this.#key, this.#iv);
    // A read may end inside a character: the decoder keeps its first bytes for the next one.
    const decoder = new TextDecoder('utf-8');
    const buffer = Buffer.alloc(WRITE_BYTES);
    let rest = '';
    for (let position = 0; position < this.#size; ) {
      const { bytesRead } = await this.#file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const text = decoder.decode(decipher.update(buffer.subarray(0, bytesRead)), { stream: true });
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) yield JSON.parse(line) as RawBatchItem;
    }
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}

/** Reads the body into a spool with `read`; the spool is closed again when `read` throws. */
async function spool(read: (spool: Spool) => Promise<string | undefined>): Promise<SpooledBatch> {
  const target = await Spool.create();
  try {
    return await target.finish(await read(target));
  } catch (error) {
    await target.close();
    throw error;
  }
}

/** The body's chunks, refused (413) past `maxBytes`, whatever `Content-Length` said. */
async function* chunksOf(body: ReadableStream<Uint8Array> | null, maxBytes: number) {
  if (body === null) return;
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw tooLarge(`request body is larger than ${maxBytes} bytes`);
    yield chunk;
  }
}

/**
 * NDJSON lines as they arrive: one line in memory at a time. A line over `MAX_LINE_BYTES` is a
 * malformed item (its rest is skipped, never buffered); a line past `MAX_NDJSON_LINES` or a body
 * past `MAX_NDJSON_BYTES` is refused (413). Blank lines are not items.
 */
export async function* ndjsonItems(body: ReadableStream<Uint8Array> | null): AsyncIterable<RawBatchItem> {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let line = '';
  let oversize = false;
  let lines = 0;
  const emit = function* (text: string, tooLong: boolean): Generator<RawBatchItem> {
    if (!tooLong && text.trim() === '') return;
    lines += 1;
    if (lines > MAX_NDJSON_LINES) throw tooLarge(`an NDJSON batch holds at most ${MAX_NDJSON_LINES} lines`);
    if (tooLong) {
      yield { malformed: '' };
      return;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) yield { value };
      else yield { malformed: text };
    } catch {
      yield { malformed: text };
    }
  };
  const split = function* (text: string): Generator<RawBatchItem> {
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      yield* emit(oversize ? '' : line + piece, oversize || line.length + piece.length > MAX_LINE_BYTES);
      line = '';
      oversize = false;
      start = nl + 1;
    }
    if (!oversize) {
      line += text.slice(start);
      if (line.length > MAX_LINE_BYTES) {
        line = '';
        oversize = true;
      }
    }
  };
  for await (const chunk of chunksOf(body, MAX_NDJSON_BYTES)) {
    yield* split(decoder.decode(chunk, { stream: true }));
  }
  yield* split(decoder.decode());
  if (oversize || line.trim() !== '') yield* emit(oversize ? '' : line, oversize);
}

/** An NDJSON upload, spooled: see `SpooledBatch`. */
export function spoolNdjson(body: ReadableStream<Uint8Array> | null): Promise<SpooledBatch> {
  return spool(async (target) => {
    for await (const item of ndjsonItems(body)) await target.add(item);
    return undefined;
  });
}

/**
 * A JSON upload `{ externalBatchId?, items: [...] }`, parsed as it streams in: each item is
 * handed over once complete and then dropped by the parser, so the body is never whole in
 * memory. The top level is checked as the strict schema would (`BatchInput`): an object with
 * `items` an array and no other key than `externalBatchId`; anything else, a body that is not
 * JSON or holds a NUL byte is refused (400); more than `MAX_JSON_ITEMS` items, or more than
 * `MAX_JSON_BATCH_BYTES` bytes, 413. Each item is then judged on its own, as an NDJSON line is.
 */
export function spoolJson(body: ReadableStream<Uint8Array> | null): Promise<SpooledBatch> {
  return spool(async (target) => {
    const values: RawBatchItem[] = [];
    let externalBatchId: unknown;
    let count = 0;
    const tokenizer = new Tokenizer();
    const parser = new TokenParser({ paths: ['$.externalBatchId', '$.items.*'], keepStack: false });
    const top = topLevelShape();
    tokenizer.onToken = (token) => {
      top.see(token);
      parser.write(token);
    };
    parser.onValue = ({ value, key, stack }) => {
      if (stack.length === 1 && key === 'externalBatchId') externalBatchId = value;
      else if (stack.length === 2) {
        count += 1;
        if (count > MAX_JSON_ITEMS) throw tooLarge(`a JSON batch holds at most ${MAX_JSON_ITEMS} items`);
        values.push({ value });
      }
    };
    const write = (chunk: Uint8Array) => {
      try {
        tokenizer.write(chunk);
      } catch (error) {
        if (error instanceof DomainError) throw error;
        throw malformed(error instanceof Error ? error.message : 'is not valid JSON');
      }
    };
    for await (const chunk of chunksOf(body, MAX_JSON_BATCH_BYTES)) {
      if (chunk.includes(0)) throw malformed('must not contain a NUL byte');
      write(chunk);
      for (const value of values.splice(0)) await target.add(value);
    }
    try {
      tokenizer.end();
    } catch (error) {
      throw malformed(error instanceof Error ? error.message : 'ends early');
    }
    top.check();
    for (const value of values.splice(0)) await target.add(value);
    if (externalBatchId === undefined) return undefined;
    const parsed = externalIdSchema.safeParse(externalBatchId);
    if (!parsed.success)
      throw new DomainError('VALIDATION_FAILED', 'externalBatchId is not valid', [
        { field: 'externalBatchId', message: parsed.error.issues[0]?.message ?? 'is not valid' },
      ]);
    return parsed.data;
  });
}

/** Follows the tokens at the top level of the body: an object of `items` (an array) and `externalBatchId`. */
function topLevelShape() {
  let depth = 0;
  let started = false;
  let ended = false;
  let expectKey = false;
  let key: string | undefined;
  let items = false;
  const refuse = (message: string): never => {
    throw new DomainError('VALIDATION_FAILED', 'request body does not match the schema', [
      { field: key ?? '(body)', message },
    ]);
  };
  return {
    see({ token, value }: ParsedTokenInfo) {
      if (!started) {
        started = true;
        if (token !== TokenType.LEFT_BRACE) refuse('must be a JSON object');
      }
      if (depth === 1 && expectKey && token === TokenType.STRING) {
        key = String(value);
        if (key !== 'items' && key !== 'externalBatchId') refuse('is not a known field');
        expectKey = false;
      } else if (depth === 1 && key === 'items' && token !== TokenType.COLON && token !== TokenType.COMMA) {
        if (token !== TokenType.LEFT_BRACKET) refuse('must be an array');
        items = true;
      }
      if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) depth += 1;
      else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) depth -= 1;
      if (depth === 1 && (token === TokenType.LEFT_BRACE || token === TokenType.COMMA)) expectKey = true;
      if (depth === 1 && token !== TokenType.COLON && token !== TokenType.STRING) key = undefined;
      if (depth === 0 && started) ended = true;
    },
    check() {
      if (!started) refuse('must be a JSON object');
      if (!ended) throw malformed('ends before its top-level object closes');
      if (!items) {
        key = 'items';
        refuse('is required');
      }
    },
  };
}

import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { EXIT, type Io, UsageError } from '../io.ts';

export const BATCH_HELP = `Usage: ctp batch <submit|status|items> [options]

  submit <file.csv|file.ndjson> [--external-id ID] [--no-wait]
      send a portfolio (CSV with a header naming entityId and kitNo; or NDJSON, one item a line),
      then show its progress (done / failed / rate / ETA) until it ends; exit 1 if items failed
  status <batchId>
      the batch as JSON (status, counts, rate, failures by reason)
  items <batchId> [--status STATUS] [--csv] [--out FILE]
      the batch's items as NDJSON, or as a CSV file (default batch-<id>-<status>.csv) that
      \`submit\` takes back

Environment: CTP_API_URL [http://127.0.0.1:3000], CTP_API_KEY (required)
`;

interface Api {
  readonly url: string;
  readonly key: string;
}

function apiOf(io: Io): Api {
  const key = io.env.CTP_API_KEY;
  if (!key) throw new UsageError('CTP_API_KEY is not set');
  return { url: (io.env.CTP_API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''), key };
}

async function call(api: Api, path: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${api.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${api.key}`, ...(init.headers ?? {}) },
  });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) {
    const error = body.error as { code?: string; message?: string } | undefined;
    throw new Error(`the api answered ${response.status} ${error?.code ?? ''}: ${error?.message ?? text}`);
  }
  return body;
}

/** One CSV line's fields (RFC 4180 quoting). */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

async function* lines(path: string): AsyncIterable<string> {
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) yield part.replace(/\r$/, '');
  }
  if (rest !== '') yield rest.replace(/\r$/, '');
}

/** A CSV file as NDJSON lines: `entityId` and `kitNo` columns by the header, the rest ignored. */
async function* csvAsNdjson(path: string): AsyncIterable<string> {
  let entityAt = -1;
  let kitAt = -1;
  for await (const line of lines(path)) {
    if (entityAt < 0) {
      const header = csvFields(line).map((h) => h.trim());
      entityAt = header.indexOf('entityId');
      kitAt = header.indexOf('kitNo');
      if (entityAt < 0 || kitAt < 0) throw new UsageError('the CSV header must name entityId and kitNo');
      continue;
    }
    if (line.trim() === '') continue;
    const fields = csvFields(line);
    yield `${JSON.stringify({ entityId: fields[entityAt] ?? '', kitNo: fields[kitAt] ?? '' })}\n`;
  }
}

async function* ndjsonFile(path: string): AsyncIterable<string> {
  for await (const line of lines(path)) yield `${line}\n`;
}

type Batch = {
  batchId: string;
  status: string;
  counts: Record<string, number>;
  ratePerSecond: number;
  completedAt?: string;
  failuresByReason: Record<string, number>;
};

const endedOf = (c: Record<string, number>) =>
  (c.succeeded ?? 0) + (c.failed ?? 0) + (c.skipped ?? 0) + (c.rejected ?? 0) + (c.cancelled ?? 0);

export async function submit(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      'external-id': { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      'interval-ms': { type: 'string', default: '1000' },
    },
  });
  const [file] = positionals;
  if (file === undefined) throw new UsageError('submit needs a file (.csv or .ndjson)');
  if (!/\.(csv|ndjson|jsonl)$/i.test(file)) throw new UsageError('the file must end in .csv or .ndjson');
  const api = apiOf(io);
  const source = /\.csv$/i.test(file) ? csvAsNdjson(file) : ndjsonFile(file);
  const query = values['external-id'] ? `?externalBatchId=${encodeURIComponent(values['external-id'])}` : '';
  const accepted = (await call(api, `/v1/ctp/batches${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: Readable.toWeb(Readable.from(source)) as ReadableStream,
    duplex: 'half',
  } as RequestInit)) as unknown as Batch;
  io.stdout.write(
    `batch ${accepted.batchId} accepted: ${accepted.counts.total} items, ${accepted.counts.rejected} rejected\n`,
  );
  if (values['no-wait']) return EXIT.ok;

  const bar = new SingleBar({
    stream: io.stdout as unknown as NodeJS.WritableStream,
    noTTYOutput: true,
    notTTYSchedule: Number(values['interval-ms']),
    format: 'batch [{bar}] {value}/{total} | done {done} | failed {failed} | {rate}/s | ETA {eta_formatted}',
    hideCursor: false,
  });
  const payload = (b: Batch) => ({
    done: b.counts.succeeded ?? 0,
    failed: (b.counts.failed ?? 0) + (b.counts.rejected ?? 0),
    rate: b.ratePerSecond,
  });
  bar.start(accepted.counts.total ?? 0, endedOf(accepted.counts), payload(accepted));
  let batch = accepted;
  while (batch.completedAt === undefined) {
    if (io.signal.aborted) {
      bar.stop();
      io.stdout.write(`stopped watching; the batch runs on: ctp batch status ${batch.batchId}\n`);
      return EXIT.ok;
    }
    await new Promise((resolve) => setTimeout(resolve, Number(values['interval-ms'])));
    batch = (await call(api, `/v1/ctp/batches/${accepted.batchId}`)) as unknown as Batch;
    bar.update(endedOf(batch.counts), payload(batch));
  }
  bar.update(endedOf(batch.counts), payload(batch));
  bar.stop();
  const c = batch.counts;
  io.stdout.write(
    `batch ${batch.batchId} ${batch.status}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped, ${c.rejected} rejected, ${c.cancelled} cancelled\n`,
  );
  const bad = (c.failed ?? 0) + (c.rejected ?? 0);
  if (bad > 0) {
    io.stdout.write(
      `failures by reason: ${JSON.stringify(batch.failuresByReason)}\nretry them: ctp batch items ${batch.batchId} --status FAILED --csv\n`,
    );
    return EXIT.failure;
  }
  return EXIT.ok;
}

export async function status(args: readonly string[], io: Io): Promise<number> {
  const { positionals } = parseArgs({ args: [...args], allowPositionals: true, options: {} });
  const [batchId] = positionals;
  if (batchId === undefined) throw new UsageError('status needs a batch id');
  const batch = await call(apiOf(io), `/v1/ctp/batches/${encodeURIComponent(batchId)}`);
  io.stdout.write(`${JSON.stringify(batch, null, 2)}\n`);
  return EXIT.ok;
}

export async function items(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      status: { type: 'string' },
      csv: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const [batchId] = positionals;
  if (batchId === undefined) throw new UsageError('items needs a batch id');
  const api = apiOf(io);
  const out = values.csv
    ? createWriteStream(values.out ?? `batch-${batchId}-${(values.status ?? 'all').toLowerCase()}.csv`)
    : null;
  if (out !== null) out.write('entityId,kitNo,status,reason,error\n');
  let cursor: string | null = null;
  let count = 0;
  do {
    const query = new URLSearchParams({
      limit: '500',
      ...(values.status ? { status: values.status } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const page = await call(api, `/v1/ctp/batches/${encodeURIComponent(batchId)}/items?${query}`);
    for (const item of page.items as Record<string, unknown>[]) {
      count += 1;
      if (out === null) io.stdout.write(`${JSON.stringify(item)}\n`);
      else {
        const error = item.error === undefined ? '' : JSON.stringify(item.error);
        const row = [item.entityId, item.kitNo, item.status, item.reason ?? '', error].map((v) =>
          csvField(String(v)),
        );
        out.write(`${row.join(',')}\n`);
      }
    }
    cursor = page.nextCursor as string | null;
  } while (cursor !== null);
  if (out !== null) {
    out.end();
    await finished(out);
    io.stdout.write(`${count} items written to ${out.path}\n`);
  }
  return EXIT.ok;
}

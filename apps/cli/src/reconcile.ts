import { parseArgs } from 'node:util';
import { z } from 'zod';
import { EXIT, type Io, UsageError } from './io.ts';

export const RECONCILE_HELP = `Usage: ctp reconcile [--entity ID]... [--dry-run] [--no-wait] [--json]

Compares entities with the network (GET /getData) through the api's POST /v1/ctp/reconciliations
and, unless --dry-run, repairs what the network is the truth for (statuses, CTP ids) and sends
stale profile or card data again. Waits for it to finish with a progress bar (on stderr), then
prints a summary and the drifts found.

Options:
  --entity ID   an entity to reconcile (repeatable); none: every entity of the tenant on CTP
  --dry-run     report drift, change nothing
  --no-wait     print the reconciliation id and return at once
  --json        the reconciliation and its drifts as one JSON object
  -h, --help    this help

Exit status: 0 done without errors, 1 some entities could not be checked or the api refused.

Environment: CTP_API_URL [http://127.0.0.1:3000], CTP_API_KEY (an API key of the tenant)
`;

const envSchema = z.object({
  CTP_API_URL: z.url().default('http://127.0.0.1:3000'),
  CTP_API_KEY: z.string().min(1, { message: 'CTP_API_KEY is required (an API key of the tenant)' }),
});

const runSchema = z.object({
  reconciliationId: z.string(),
  status: z.string(),
  dryRun: z.boolean(),
  counts: z.record(z.string(), z.number()),
});
const driftsSchema = z.object({
  items: z.array(
    z.object({
      entityId: z.string(),
      kitNo: z.string().optional(),
      field: z.string(),
      ours: z.string().nullable(),
      network: z.string().nullable(),
      action: z.string(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

class ApiError extends Error {
  override readonly name = 'ApiError';
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** `[#####-----] 5/10`, 30 cells. */
export function progressBar(done: number, total: number): string {
  const cells = 30;
  const filled = total === 0 ? cells : Math.min(cells, Math.floor((done / total) * cells));
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}] ${done}/${total}`;
}

export async function reconcile(args: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      entity: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean', default: false },
      'no-wait': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(RECONCILE_HELP);
    return EXIT.ok;
  }
  const present = Object.fromEntries(Object.entries(io.env).filter(([, v]) => v !== undefined && v !== ''));
  const env = envSchema.safeParse(present);
  if (!env.success)
    throw new UsageError(env.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; '));
  const base = env.data.CTP_API_URL.replace(/\/$/, '');
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${env.data.CTP_API_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json: unknown = text === '' ? {} : JSON.parse(text);
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(
        `the api answered ${response.status} ${error?.code ?? ''}: ${error?.message ?? text}`,
      );
    }
    return json;
  };

  try {
    const entityIds = values.entity;
    const accepted = (await call('POST', '/v1/ctp/reconciliations', {
      ...(entityIds === undefined ? {} : { entityIds }),
      ...(values['dry-run'] ? { dryRun: true } : {}),
    })) as { reconciliationId: string };
    const id = accepted.reconciliationId;
    if (values['no-wait']) {
      io.stdout.write(`${id}\n`);
      return EXIT.ok;
    }
    let run = runSchema.parse(await call('GET', `/v1/ctp/reconciliations/${id}`));
    let shown = '';
    while (run.status !== 'COMPLETED' && !io.signal.aborted) {
      const bar = `${progressBar(run.counts.checked ?? 0, run.counts.total ?? 0)} checked`;
      if (bar !== shown) io.stderr.write(`\r${bar}`);
      shown = bar;
      await sleep(300, io.signal);
      run = runSchema.parse(await call('GET', `/v1/ctp/reconciliations/${id}`));
    }
    io.stderr.write(`\r${progressBar(run.counts.checked ?? 0, run.counts.total ?? 0)} checked\n`);
    const drifts: z.infer<typeof driftsSchema>['items'] = [];
    let cursor: string | null = null;
    do {
      const query: string =
        cursor === null ? '?limit=500' : `?limit=500&cursor=${encodeURIComponent(cursor)}`;
      const page = driftsSchema.parse(await call('GET', `/v1/ctp/reconciliations/${id}/drifts${query}`));
      drifts.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...run, drifts })}\n`);
    } else {
      const c = run.counts;
      const lines = [
        `reconciliation ${id} ${run.status}${run.dryRun ? ' (dry run: nothing changed)' : ''}`,
        `  checked ${c.checked}/${c.total}  agreed ${c.agreed}  drifted ${c.drifted}  repaired ${c.repaired}  skipped ${c.skipped}  errors ${c.errors}`,
        ...(drifts.length === 0 ? [] : ['drifts:']),
        ...drifts.map(
          (d) =>
            `  ${d.entityId}${d.kitNo === undefined ? '' : ` kit ${d.kitNo}`} ${d.field}: ours ${d.ours ?? '-'}, network ${d.network ?? '-'} → ${d.action}`,
        ),
      ];
      if (run.status !== 'COMPLETED')
        lines.push(`stopped waiting; it goes on (GET /v1/ctp/reconciliations/${id})`);
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    return (run.counts.errors ?? 0) > 0 ? EXIT.failure : EXIT.ok;
  } catch (error) {
    if (error instanceof ApiError) {
      io.stderr.write(`ctp: ${error.message}\n`);
      return EXIT.failure;
    }
    if (error instanceof TypeError && (error as { cause?: unknown }).cause !== undefined) {
      io.stderr.write(`ctp: the api at ${base} cannot be reached\n`);
      return EXIT.unavailable;
    }
    throw error;
  }
}

/**
 * What the step statement's unused parts cost PostgreSQL (`step-writes.ts`): one backend runs a
 * step's writes (a customer's and a payment's status, a history row, an outbox row) in
 * `begin` / statement / `rollback`, as the statement with every part and as the statement without
 * the guarded parts (what a step that ends nothing sends), rounds interleaved; printed: the
 * backend's CPU per step (`/proc/<pid>/stat`), median of the rounds.
 *
 *   node bench/probe-step-writes.ts <database url>
 *
 * The database needs one enrolled customer with a card: keep one with `BENCH_KEEP_DB=1 pnpm
 * bench` (its url is printed). Every round is rolled back: nothing is changed.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import {
  INSERT_CUSTOMERS_CTE,
  INSERT_PAYMENTS_CTE,
  UPDATE_CUSTOMERS_CTE,
  UPDATE_PAYMENTS_CTE,
} from '../packages/core/src/operations/enrolment-writes.ts';
import { INSERT_HISTORY_CTE } from '../packages/core/src/operations/history-writes.ts';
import { MARK_WEBHOOKS_PROCESSED_CTE } from '../packages/core/src/operations/inbox-writes.ts';
import {
  FINISH_OPERATIONS_CTE,
  GUARD_OPERATIONS_CTE,
  INSERT_OPERATIONS_CTE,
} from '../packages/core/src/operations/operation-writes.ts';
import { INSERT_OUTBOX_CTE } from '../packages/core/src/operations/outbox.ts';
import { GUARD_TRACES_CTE, RESOLVE_TRACES_CTE } from '../packages/core/src/operations/trace-writes.ts';

const everyPart = `with ${GUARD_OPERATIONS_CTE},
  ${GUARD_TRACES_CTE},
  ok as (
    select (select count(*) from guard_operation) = jsonb_array_length($operations_end::jsonb)
       and (select count(*) from guard_trace) = jsonb_array_length($traces_end::jsonb) as applied),
  ${INSERT_CUSTOMERS_CTE}, ${UPDATE_CUSTOMERS_CTE}, ${INSERT_PAYMENTS_CTE}, ${UPDATE_PAYMENTS_CTE},
  ${INSERT_OPERATIONS_CTE}, ${FINISH_OPERATIONS_CTE}, ${RESOLVE_TRACES_CTE}, ${MARK_WEBHOOKS_PROCESSED_CTE},
  ${INSERT_HISTORY_CTE}, ${INSERT_OUTBOX_CTE}
  select ctp_guard(applied) as applied from ok`;
const unguarded = `with ok as (select true as applied),
  ${INSERT_CUSTOMERS_CTE}, ${UPDATE_CUSTOMERS_CTE}, ${INSERT_PAYMENTS_CTE}, ${UPDATE_PAYMENTS_CTE},
  ${INSERT_OPERATIONS_CTE}, ${INSERT_HISTORY_CTE}, ${INSERT_OUTBOX_CTE}
  select ctp_guard(applied) as applied from ok`;

function numbered(text: string): { text: string; order: string[] } {
  const order: string[] = [];
  const out = text.replace(/\$([a-z_][a-z0-9_]*)/gi, (_, name: string) => {
    let i = order.indexOf(name);
    if (i < 0) i = order.push(name) - 1;
    return `$${i + 1}`;
  });
  return { text: out, order };
}

const url = process.argv[2];
if (url === undefined) throw new Error('usage: node bench/probe-step-writes.ts <database url>');
const client = new pg.Client({ connectionString: url });
await client.connect();
const [row] = (
  await client.query<{ c: string; p: string; tenant: string; entity_id: string }>(
    `select c.pkey::text as c, p.pkey::text as p, c.tenant, c.entity_id
       from ctp_customer c join ctp_payment p on p.ctcustomer_pkey = c.pkey limit 1`,
  )
).rows;
if (row === undefined) throw new Error('no enrolled customer with a card in that database');
const owner = { tenant: row.tenant, entityId: row.entity_id };
const params: Record<string, unknown> = {
  customers_new: '[]',
  customers_set: JSON.stringify([{ pkey: row.c, status: 'ACTIVE', customerId: 'probe' }]),
  payments_new: '[]',
  payments_set: JSON.stringify([{ pkey: row.p, status: 'ACTIVE', instrumentId: 'probe' }]),
  operations_new: '[]',
  operations_end: '[]',
  traces_end: '[]',
  webhooks_done: '[]',
  history: JSON.stringify([
    { ...owner, kitNumber: null, record: 'entity', fromStatus: 'A', toStatus: 'B', cause: 'probe' },
  ]),
};
const { pid } = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0] ?? { pid: 0 };
const backendCpuMs = (): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

async function round(name: string, text: string, steps: number): Promise<number> {
  const compiled = numbered(text);
  const before = backendCpuMs();
  for (let i = 0; i < steps; i++) {
    const values = compiled.order.map((p) =>
      p === 'outbox'
        ? JSON.stringify([
            { ...owner, kind: 'notification', topic: 'probe', dedupeKey: `probe-${i}`, payload: {} },
          ])
        : (params[p] ?? null),
    );
    await client.query('begin');
    await client.query({ name, text: compiled.text, values });
    await client.query('rollback');
  }
  return ((backendCpuMs() - before) / steps) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const every: number[] = [];
const unguardedCpu: number[] = [];
for (let r = 0; r < 7; r++) {
  every.push(await round('probe_every_part', everyPart, 2_000));
  unguardedCpu.push(await round('probe_unguarded', unguarded, 2_000));
}
console.log(`backend CPU per step (begin, statement, rollback), µs, 7 rounds of 2,000:`);
console.log(`  every part: ${every.map((v) => v.toFixed(0)).join(' ')}  median ${median(every).toFixed(0)}`);
console.log(
  `  unguarded:  ${unguardedCpu.map((v) => v.toFixed(0)).join(' ')}  median ${median(unguardedCpu).toFixed(0)}`,
);
await client.end();

import { createHash, randomUUID } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { PanCipher } from '../cards/crypto.ts';
import { maskPan, maskPansIn } from '../cards/pan.ts';
import { DomainError, notFound } from '../errors/domain-error.ts';
import { auditInsert, nextAuditKey } from '../operations/admin-actions.ts';
import { binEligible } from '../operations/auto-enrol.ts';
import { syncOnEntityChange, syncOnKitChange } from '../operations/automatic-sync.ts';
import { insertOutboxRows, outboxNotificationRow } from '../operations/outbox.ts';
import { defineStatement, executeOnOrm } from '../operations/sql-session.ts';
import { type CarriedRecords, putNewRecords } from '../records/chunk.ts';
import { putEntity } from '../records/entities.ts';
import { putKit } from '../records/kits.ts';
import { readCtpSettings } from '../settings/store.ts';
import {
  type BatchAnswer,
  type BatchCounts,
  type BatchItemAnswer,
  type BatchItemReason,
  type BatchItemStatus,
  type BatchStatus,
  batchItemInputSchema,
  idsOf,
  rejectionOf,
} from './schema.ts';

/**
 * Every write of `ctp_batch` and `ctp_batch_item` is in this module: the intake, the feeder's
 * item moves and completion, and cancel. No card data in either table: a carried card goes to
 * `kit` (encrypted) through the records' module (`records/chunk.ts`, `putKit`) before its item
 * is written.
 */

/** One item as the api read it: parsed JSON, or a line that is not JSON. */
export type RawBatchItem = { readonly value: unknown } | { readonly malformed: string };

interface ItemRow {
  seq: number;
  entityId: string;
  kitNo: string;
  status: BatchItemStatus;
  reason: string | null;
  error: unknown;
}

const insertBatch = defineStatement<
  { id: string; tenant: string; external_batch_id: string | null },
  { id: string }
>(
  'ctp_batch_insert',
  `insert into ctp_batch (id, tenant, external_batch_id, request_hash, status, created_at, updated_at)
   values ($id::uuid, $tenant::text, $external_batch_id::text, '', 'RUNNING', now(), now())
   on conflict (tenant, external_batch_id) where external_batch_id is not null do nothing
   returning id`,
);

const setBatchHash = defineStatement<{ id: string; request_hash: string }>(
  'ctp_batch_hash',
  'update ctp_batch set request_hash = $request_hash::text where id = $id::uuid',
);

const insertItems = defineStatement<{ batch_id: string; items: string }>(
  'ctp_batch_items_insert',
  `insert into ctp_batch_item (batch_id, seq, entity_id, kit_number, status, reason, error, updated_at)
   select $batch_id::uuid, r.seq, r."entityId", r."kitNo", r.status, r.reason, r.error, now()
     from jsonb_to_recordset($items::jsonb)
       as r(seq int, "entityId" text, "kitNo" text, status text, reason text, error jsonb)`,
);

interface LookupRow {
  seq: number;
  entity_found: boolean;
  kit_found: boolean;
  pan_first6: string | null;
  pan_ciphertext: string | null;
  pan_key_id: string | null;
}

const lookupItems = defineStatement<{ tenant: string; items: string }, LookupRow>(
  'ctp_batch_items_lookup',
  `select r.seq, e.pkey is not null as entity_found, k.pkey is not null as kit_found,
          k.pan_first6, k.pan_ciphertext, k.pan_key_id
     from jsonb_to_recordset($items::jsonb) as r(seq int, "entityId" text, "kitNo" text)
     left join business_entity e on e.tenant = $tenant::text and e.entity_id = r."entityId"
     left join kit k on k.tenant = $tenant::text and k.kit_no = r."kitNo" and k.business_entity_fkey = e.pkey`,
);

const findByExternalId = defineStatement<{ tenant: string; external_batch_id: string }, { id: string }>(
  'ctp_batch_by_external_id',
  'select id from ctp_batch where tenant = $tenant::text and external_batch_id = $external_batch_id::text',
);

interface BatchRow {
  id: string;
  tenant: string;
  external_batch_id: string | null;
  request_hash: string;
  status: BatchStatus;
  final_counts: BatchCounts | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

const BATCH_COLUMNS =
  'id, tenant, external_batch_id, request_hash, status, final_counts, created_at, updated_at, completed_at';

const readBatch = defineStatement<{ tenant: string; id: string }, BatchRow>(
  'ctp_batch_read',
  `select ${BATCH_COLUMNS} from ctp_batch where tenant = $tenant::text and id = $id::uuid`,
);

const listBatchRows = defineStatement<
  { tenant: string; before: string | null; before_id: string | null; limit: number },
  BatchRow
>(
  'ctp_batch_list',
  `select ${BATCH_COLUMNS} from ctp_batch
    where tenant = $tenant::text
      and ($before::timestamptz is null or (created_at, id) < ($before::timestamptz, $before_id::uuid))
    order by created_at desc, id desc limit $limit::int`,
);

const countItems = defineStatement<{ batch_id: string }, { status: BatchItemStatus; n: number }>(
  'ctp_batch_counts',
  'select status, count(*)::int as n from ctp_batch_item where batch_id = $batch_id::uuid group by status',
);

const failureReasons = defineStatement<{ batch_id: string }, { reason: string; n: number }>(
  'ctp_batch_failure_reasons',
  `select coalesce(reason, error->>'code', 'UNKNOWN') as reason, count(*)::int as n
     from ctp_batch_item where batch_id = $batch_id::uuid and status in ('FAILED', 'REJECTED')
    group by 1 order by 2 desc limit 50`,
);

const listItemRows = defineStatement<
  { batch_id: string; status: string | null; after: number; limit: number },
  {
    seq: number;
    entity_id: string;
    kit_number: string;
    status: BatchItemStatus;
    operation_id: string | null;
    reason: string | null;
    error: unknown;
  }
>(
  'ctp_batch_items_page',
  `select seq, entity_id, kit_number, status, operation_id, reason, error from ctp_batch_item
    where batch_id = $batch_id::uuid and ($status::text is null or status = $status::text) and seq > $after::int
    order by seq limit $limit::int`,
);

/** Items judged and written together. */
const CHUNK = 1_000;
/** Entities whose records go one by one (a record that would change), at most this many side by side. */
const RECORD_CONCURRENCY = 8;

async function mapLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** The answer's counts from the per-status counts. */
function countsOf(rows: readonly { status: BatchItemStatus; n: number }[]): BatchCounts {
  const by = Object.fromEntries(rows.map((row) => [row.status, Number(row.n)])) as Partial<
    Record<BatchItemStatus, number>
  >;
  const counts = {
    pending: by.PENDING ?? 0,
    inProgress: by.IN_PROGRESS ?? 0,
    succeeded: by.SUCCEEDED ?? 0,
    failed: by.FAILED ?? 0,
    skipped: by.SKIPPED ?? 0,
    rejected: by.REJECTED ?? 0,
    cancelled: by.CANCELLED ?? 0,
  };
  return { total: Object.values(counts).reduce((a, b) => a + b, 0), ...counts };
}

export async function batchCounts(em: EntityManager, batchId: string): Promise<BatchCounts> {
  return countsOf(await executeOnOrm(em, countItems({ batch_id: batchId })));
}

async function answerOf(em: EntityManager, row: BatchRow): Promise<BatchAnswer> {
  const counts = row.final_counts ?? (await batchCounts(em, row.id));
  const reasons = await executeOnOrm(em, failureReasons({ batch_id: row.id }));
  const created = new Date(row.created_at);
  const until = row.completed_at === null ? new Date() : new Date(row.completed_at);
  const ended = counts.succeeded + counts.failed + counts.skipped;
  const seconds = Math.max(0.001, (until.getTime() - created.getTime()) / 1000);
  return {
    batchId: row.id,
    ...(row.external_batch_id === null ? {} : { externalBatchId: row.external_batch_id }),
    status: row.status,
    counts,
    ratePerSecond: Math.round((ended / seconds) * 100) / 100,
    failuresByReason: Object.fromEntries(reasons.map((r) => [r.reason, Number(r.n)])),
    createdAt: created.toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    ...(row.completed_at === null ? {} : { completedAt: new Date(row.completed_at).toISOString() }),
  };
}

/** `GET /v1/ctp/batches/{batchId}`; another tenant's batch is not found. */
export async function getBatch(em: EntityManager, tenant: string, batchId: string): Promise<BatchAnswer> {
  const fork = em.fork();
  const [row] = await executeOnOrm(fork, readBatch({ tenant, id: batchId }));
  if (row === undefined) throw notFound('batch');
  return answerOf(fork, row);
}

/** `GET /v1/ctp/batches`: newest first, by a cursor of (createdAt, id). */
export async function listBatches(
  em: EntityManager,
  tenant: string,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: BatchAnswer[]; nextCursor: string | null }> {
  const fork = em.fork();
  const [before, beforeId] = decodeCursor(page.cursor);
  const rows = await executeOnOrm(
    fork,
    listBatchRows({ tenant, before, before_id: beforeId, limit: page.limit + 1 }),
  );
  const items: BatchAnswer[] = [];
  for (const row of rows.slice(0, page.limit)) items.push(await answerOf(fork, row));
  const last = rows[page.limit - 1];
  const nextCursor =
    rows.length > page.limit && last !== undefined
      ? Buffer.from(`${new Date(last.created_at).toISOString()}|${last.id}`).toString('base64url')
      : null;
  return { items, nextCursor };
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function decodeCursor(cursor: string | undefined): [string | null, string | null] {
  if (cursor === undefined) return [null, null];
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  // Only the form `listBatches` writes (an ISO instant that reads back to itself): anything else
  // `Date.parse` accepts ("1", "May 5") is not a timestamp PostgreSQL takes, and would be a 500.
  const instant = at !== undefined && ISO_INSTANT.test(at) && !Number.isNaN(Date.parse(at));
  if (!instant || rest.length > 0 || id === undefined || !UUID.test(id) || new Date(at).toISOString() !== at)
    throw new DomainError('VALIDATION_FAILED', 'cursor is not one this api returned', [
      { field: 'cursor', message: 'must be a cursor this api returned' },
    ]);
  return [at, id];
}

/** `GET /v1/ctp/batches/{batchId}/items?status=`: in submission order, by a cursor of the last seq. */
export async function listBatchItems(
  em: EntityManager,
  tenant: string,
  batchId: string,
  page: { status?: BatchItemStatus | undefined; cursor?: string | undefined; limit: number },
): Promise<{ items: BatchItemAnswer[]; nextCursor: string | null }> {
  const fork = em.fork();
  const [batch] = await executeOnOrm(fork, readBatch({ tenant, id: batchId }));
  if (batch === undefined) throw notFound('batch');
  const rows = await executeOnOrm(
    fork,
    listItemRows({
      batch_id: batchId,
      status: page.status ?? null,
      after: page.cursor === undefined ? -1 : Number(page.cursor),
      limit: page.limit + 1,
    }),
  );
  const items = rows.slice(0, page.limit).map((row) => ({
    seq: row.seq,
    entityId: row.entity_id,
    kitNo: row.kit_number,
    status: row.status,
    ...(row.operation_id === null ? {} : { operationId: row.operation_id }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.error === null ? {} : { error: row.error }),
  }));
  const last = items.at(-1);
  return { items, nextCursor: rows.length > page.limit && last !== undefined ? String(last.seq) : null };
}

export interface SubmitBatchRequest {
  readonly tenant: string;
  readonly externalBatchId?: string | undefined;
  readonly items: AsyncIterable<RawBatchItem>;
}

/**
 * `POST /v1/ctp/batches`: reads the items as they stream in, judges each on its own (a bad one
 * is `REJECTED` with its reason, the rest are `PENDING` for the feeder), and writes the batch
 * and its items in one transaction, a chunk at a time: when the source throws, nothing of the
 * batch is kept. Carried records are written first, in their own transactions: a chunk's new
 * records together in bulk (`putNewRecords`), a record that would change through the records'
 * own routes' code (`putEntity`, `putKit`, with their automatic updates); so that a body over the
 * limits leaves no record either, the api hands over items it has already read to their end (its
 * spool, `apps/api/src/routes/batch-body.ts`), never a body still arriving. The same
 * `externalBatchId` again: the first answer when the items are the same,
 * `422 IDEMPOTENCY_KEY_REUSED` otherwise; a replay writes nothing.
 */
export async function submitBatch(
  em: EntityManager,
  cipher: PanCipher,
  request: SubmitBatchRequest,
): Promise<{ batch: BatchAnswer; replayed: boolean }> {
  const { tenant } = request;
  const settings = await readCtpSettings(em.fork(), tenant);
  const allowed = new Set(settings.allowList);
  const eightDigitBins = settings.eligibleBins.some((bin) => bin.length > 6);
  const hash = createHash('sha256').update(JSON.stringify([request.externalBatchId ?? null]));
  const id = randomUUID();
  const result = await em.fork().transactional(async (tx) => {
    const inserted = await executeOnOrm(
      tx,
      insertBatch({ id, tenant, external_batch_id: request.externalBatchId ?? null }),
    );
    const replay = inserted.length === 0;
    let seq = 0;
    let chunk: { row: ItemRow; panPrefix: string | null }[] = [];
    let incoming: { raw: RawBatchItem; seq: number }[] = [];

    /**
     * Judges the items read so far, then writes the records the accepted ones carry: the new ones
     * in bulk, in one transaction for the chunk (`putNewRecords`); the entities with a record that
     * would change one by one as a `PUT` writes them, side by side, the items of one entity in
     * order (a card after its customer).
     */
    const judgeIncoming = async () => {
      const judged = incoming.map((item) => judge(item.raw, item.seq));
      if (!replay) await writeRecords(judged);
      for (const result of judged) {
        hash.update(result.fingerprint);
        chunk.push({ row: result.row, panPrefix: result.panPrefix });
      }
      incoming = [];
      await flush();
    };

    const flush = async () => {
      if (chunk.length === 0 || replay) {
        chunk = [];
        return;
      }
      await judgeExisting(chunk);
      await executeOnOrm(
        tx,
        insertItems({ batch_id: id, items: JSON.stringify(chunk.map(({ row }) => row)) }),
      );
      chunk = [];
    };

    /** Entity and kit must exist (after their records were written); then the BIN. */
    const judgeExisting = async (rows: { row: ItemRow; panPrefix: string | null }[]) => {
      const open = rows.filter(({ row }) => row.status === 'PENDING');
      if (open.length === 0) return;
      const found = await executeOnOrm(
        tx,
        lookupItems({
          tenant,
          items: JSON.stringify(
            open.map(({ row }) => ({ seq: row.seq, entityId: row.entityId, kitNo: row.kitNo })),
          ),
        }),
      );
      const bySeq = new Map(found.map((f) => [Number(f.seq), f]));
      for (const item of open) {
        const f = bySeq.get(item.row.seq);
        if (!f?.entity_found) reject(item.row, 'ENTITY_NOT_FOUND');
        else if (!f.kit_found) reject(item.row, 'KIT_NOT_FOUND');
        else {
          const prefix = item.panPrefix ?? storedPrefix(f, item.row, eightDigitBins);
          if (!binEligible(settings.eligibleBins, prefix)) reject(item.row, 'BIN_NOT_ELIGIBLE');
        }
      }
    };

    const storedPrefix = (f: LookupRow, row: ItemRow, whole: boolean): string => {
      if (!whole || f.pan_ciphertext === null || f.pan_key_id === null) return f.pan_first6 ?? '';
      try {
        const pan = cipher.decrypt(
          { ciphertext: f.pan_ciphertext, keyId: f.pan_key_id },
          { tenant, kitNo: row.kitNo },
        );
        return pan.slice(0, 8);
      } catch {
        return f.pan_first6 ?? '';
      }
    };

    for await (const raw of request.items) {
      seq += 1;
      incoming.push({ raw, seq });
      if (incoming.length >= CHUNK) await judgeIncoming();
    }
    await judgeIncoming();

    const digest = hash.digest('hex');
    if (replay) return { replay: true as const, digest };
    await executeOnOrm(tx, setBatchHash({ id, request_hash: digest }));
    return { replay: false as const, digest };
  });

  if (!result.replay) return { batch: await getBatch(em, tenant, id), replayed: false };
  const [earlier] = await executeOnOrm(
    em.fork(),
    findByExternalId({ tenant, external_batch_id: request.externalBatchId ?? '' }),
  );
  if (earlier === undefined) throw new Error('a batch with this externalBatchId vanished');
  const fork = em.fork();
  const [row] = await executeOnOrm(fork, readBatch({ tenant, id: earlier.id }));
  if (row === undefined) throw notFound('batch');
  if (row.request_hash !== result.digest)
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this externalBatchId was used for other items');
  return { batch: await answerOf(fork, row), replayed: true };

  function reject(row: ItemRow, reason: BatchItemReason, error: unknown = null) {
    row.status = 'REJECTED';
    row.reason = reason;
    row.error = error;
  }

  /** The records of the items still `PENDING`; an item whose record is refused is `REJECTED`. */
  async function writeRecords(judged: readonly Judged[]): Promise<void> {
    const groups = new Map<string, { row: ItemRow; records: CarriedRecords }[]>();
    for (const { row, records } of judged) {
      if (records === null || row.status !== 'PENDING') continue;
      const group = groups.get(records.entityId);
      if (group === undefined) groups.set(records.entityId, [{ row, records }]);
      else group.push({ row, records });
    }
    const list = [...groups.values()];
    const oneByOne = await putNewRecords(
      em,
      cipher,
      tenant,
      list.map((group) => group.map(({ records }) => records)),
    );
    await mapLimited(
      list.filter((_, index) => oneByOne.has(index)),
      RECORD_CONCURRENCY,
      async (group) => {
        for (const item of group) await putRecordsOf(item.row, item.records);
      },
    );
  }

  /** One item's records through the records' own use cases, each in its own transaction. */
  async function putRecordsOf(row: ItemRow, { entityId, kitNo, customer, card }: CarriedRecords) {
    try {
      if (customer !== undefined)
        await putEntity(em, { tenant, entityId, body: customer }, syncOnEntityChange);
      if (card !== undefined)
        await putKit(em, cipher, { tenant, entityId, kitNo, body: card }, syncOnKitChange);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      reject(row, error.code === 'NOT_FOUND' ? 'ENTITY_NOT_FOUND' : 'RECORD_REFUSED', {
        code: error.code,
        message: maskPansIn(error.message),
      });
    }
  }

  /** One item: its shape and the tenant's settings; the records it carries, if it is accepted so far. */
  function judge(raw: RawBatchItem, seq: number): Judged {
    if ('malformed' in raw) {
      const row: ItemRow = { seq, entityId: '', kitNo: '', status: 'PENDING', reason: null, error: null };
      reject(row, 'MALFORMED_LINE', { message: 'the line is not a JSON object' });
      return { row, panPrefix: null, fingerprint: maskPansIn(raw.malformed), records: null };
    }
    const parsed = batchItemInputSchema.safeParse(raw.value);
    if (!parsed.success) {
      const row: ItemRow = { seq, ...idsOf(raw.value), status: 'PENDING', reason: null, error: null };
      const { reason, problems } = rejectionOf(parsed.error);
      reject(row, reason, { problems });
      return {
        row,
        panPrefix: null,
        fingerprint: maskPansIn(JSON.stringify(raw.value) ?? ''),
        records: null,
      };
    }
    const item = parsed.data;
    const row: ItemRow = {
      seq,
      entityId: item.entityId,
      kitNo: item.kitNo,
      status: 'PENDING',
      reason: null,
      error: null,
    };
    const fingerprint = JSON.stringify([
      item.entityId,
      item.kitNo,
      item.customer ?? null,
      item.card === undefined ? null : { ...item.card, pan: maskPan(item.card.pan) },
    ]);
    const panPrefix = item.card === undefined ? null : item.card.pan.slice(0, 8);
    if (settings.mode === 'OFF' || (settings.mode === 'ALLOW_LIST' && !allowed.has(item.entityId)))
      reject(row, 'CTP_NOT_ENABLED');
    else if (panPrefix !== null && !binEligible(settings.eligibleBins, panPrefix))
      reject(row, 'BIN_NOT_ELIGIBLE');
    const carries = item.customer !== undefined || item.card !== undefined;
    return {
      row,
      panPrefix,
      fingerprint,
      records: carries
        ? { entityId: item.entityId, kitNo: item.kitNo, customer: item.customer, card: item.card }
        : null,
    };
  }
}

/** An item judged: its row, the card's BIN (never stored), its hash input, the records it carries. */
interface Judged {
  readonly row: ItemRow;
  readonly panPrefix: string | null;
  readonly fingerprint: string;
  readonly records: CarriedRecords | null;
}

// ---------------------------------------------------------------------------------------------
// The feeder's writes.

/** A batch the feeder works on now: leased so that one worker feeds it at a time. */
export interface LeasedBatch {
  id: string;
  tenant: string;
  external_batch_id: string | null;
  status: BatchStatus;
}

export const leaseOpenBatches = defineStatement<{ lease_ms: number; limit: number }, LeasedBatch>(
  'ctp_batch_lease',
  `update ctp_batch b set lease_until = now() + $lease_ms::int * interval '1 millisecond'
    where b.id in (select id from ctp_batch
                    where completed_at is null and (lease_until is null or lease_until < now())
                    order by created_at limit $limit::int for update skip locked)
   returning b.id, b.tenant, b.external_batch_id, b.status`,
);

export const releaseBatchLease = defineStatement<{ id: string }>(
  'ctp_batch_release',
  'update ctp_batch set lease_until = null where id = $id::uuid',
);

/**
 * Items whose operation ended take its outcome.
 *
 * This and the lane's queue count below reach `ctp_operation` only by primary key, one lookup per
 * started item (`offset 0` keeps the lateral subquery from being flattened into a join), so they
 * cost what the lane's window holds, however many operations the table keeps. As plain joins on
 * `o.id = i.operation_id`, the settle was planned as a hash join over a sequential scan of every
 * operation (22 ms a run a few thousand items into the 10,000-item bench batch, growing with the
 * table), and the queue count as a nested loop over the whole `QUEUED` partial index for each
 * started item (48 ms): the planner takes that index for a few rows, its dead entries and other
 * tenants' operations included. With `o.id = any(array(…))` added, each lookup probed the index
 * once per element of the array (30 ms for a window of 500). The ended items are then updated by
 * their `seq`s as one array: joined with the started items again, the planner (estimating one
 * started item from statistics taken before the batch) compared every pair (68 ms; 6 ms now).
 * `auto_explain`, BENCHMARKS.md tenth session; `apps/worker/test/batch-feed-plan.test.ts`.
 */
export const settleBatchItems = defineStatement<{ batch_id: string }, { n: number }>(
  'ctp_batch_items_settle',
  `with ended as materialized (
     select i.seq, o.status, o.error_code, o.error_message
       from ctp_batch_item i
      cross join lateral (select o.status, o.error_code, o.error_message from ctp_operation o
                           where o.id = i.operation_id offset 0) o
      where i.batch_id = $batch_id::uuid and i.status = 'IN_PROGRESS' and o.status in ('SUCCESS', 'FAILED')),
   settled as (
     update ctp_batch_item i
        set status = case when d.status = 'SUCCESS' then 'SUCCEEDED' else 'FAILED' end,
            error = case when d.status = 'SUCCESS' then null
                         else jsonb_build_object('code', d.error_code, 'message', d.error_message) end,
            updated_at = now()
       from ended d
      where i.batch_id = $batch_id::uuid and i.seq = any(array(select seq from ended))
        and i.seq = d.seq and i.status = 'IN_PROGRESS'
     returning 1)
   select count(*)::int as n from settled`,
);

/** The tenant's batch operations not yet accepted by the SaaS (the lane's queue). */
export const queuedOfBatches = defineStatement<{ batch_ids: string[] }, { n: number }>(
  'ctp_batch_queued',
  `select count(*)::int as n from ctp_batch_item i
    where i.batch_id = any($batch_ids::uuid[]) and i.status = 'IN_PROGRESS'
      and (select o.status from ctp_operation o where o.id = i.operation_id) = 'QUEUED'`,
);

/** A pending item with what the feeder judges it by, read for many items in one statement. */
export interface PendingItem {
  seq: number;
  entity_id: string;
  kit_number: string;
  entity_found: boolean;
  kit_found: boolean;
  /** The CTP statuses (`UNREGISTERED` without a CTP row), as `snapshotOf` reads them. */
  entity_status: string;
  kit_status: string;
}

/**
 * The next pending items with their entity's and card's CTP statuses: one statement for a whole
 * feeder run, instead of loading each item's aggregate (four reads an item). Only what decides
 * the item's event is read here; the operation's own transaction reads and locks the aggregate
 * again and stays the judge (`requestOperation`). Items of an entity with an operation in flight
 * (the in-flight index's statuses) are passed over, not returned to wait: a customer's second
 * card would otherwise hold a slot of the run while its first one enrols, and a window of them
 * would keep the feeder from reaching the items behind.
 */
export const nextPendingItems = defineStatement<
  { batch_id: string; tenant: string; limit: number },
  PendingItem
>(
  'ctp_batch_items_next',
  `select i.seq, i.entity_id, i.kit_number, e.pkey is not null as entity_found, k.pkey is not null as kit_found,
          coalesce(c.ctp_entity_status, 'UNREGISTERED') as entity_status,
          coalesce(p.ctp_kit_status, 'UNREGISTERED') as kit_status
     from (select bi.seq, bi.entity_id, bi.kit_number from ctp_batch_item bi
            where bi.batch_id = $batch_id::uuid and bi.status = 'PENDING'
              and not exists (select 1 from ctp_operation o
                               where o.tenant = $tenant::text and o.entity_id = bi.entity_id
                                 and o.status in ('QUEUED', 'IN_PROGRESS'))
            order by bi.seq limit $limit::int) i
     left join business_entity e on e.tenant = $tenant::text and e.entity_id = i.entity_id
     left join ctp_customer c on c.business_entity_fkey = e.pkey
     left join kit k on k.tenant = $tenant::text and k.kit_no = i.kit_number and k.business_entity_fkey = e.pkey
     left join ctp_payment p on p.kit_pkey = k.pkey
    order by i.seq`,
);

/**
 * Sent with the operation's own writes (`requestOperation`'s `commitWithStarted`): the item and
 * its operation commit together. An item cancelled meanwhile makes the statement fail (division
 * by zero when no row moved), which rolls the operation back: a cancelled item never starts.
 */
export const markItemStarted = defineStatement<{ batch_id: string; seq: number; operation_id: string }>(
  'ctp_batch_item_started',
  `with started as (
     update ctp_batch_item set status = 'IN_PROGRESS', operation_id = $operation_id::uuid, updated_at = now()
      where batch_id = $batch_id::uuid and seq = $seq::int and status = 'PENDING'
     returning 1)
   select 1 / (select count(*)::int from started) as started`,
);

/** An item that ended without an operation (skipped, refused, or failed to start). */
export const endItem = defineStatement<{
  batch_id: string;
  seq: number;
  status: BatchItemStatus;
  reason: string | null;
  error: string | null;
}>(
  'ctp_batch_item_end',
  `update ctp_batch_item set status = $status::text, reason = $reason::text, error = $error::jsonb,
          updated_at = now()
    where batch_id = $batch_id::uuid and seq = $seq::int and status = 'PENDING'`,
);

const hasOpenItems = defineStatement<{ batch_id: string }, { open: boolean }>(
  'ctp_batch_open_items',
  `select exists (select 1 from ctp_batch_item where batch_id = $batch_id::uuid
                   and status in ('PENDING', 'IN_PROGRESS')) as open`,
);

const completeBatch = defineStatement<{ id: string; counts: string }, { status: BatchStatus }>(
  'ctp_batch_complete',
  `update ctp_batch set status = case when status = 'RUNNING' then 'COMPLETED' else status end,
          final_counts = $counts::jsonb, completed_at = now(), updated_at = now(), lease_until = null
    where id = $id::uuid and completed_at is null
   returning status`,
);

/**
 * Ends a batch with nothing left to run: its counts are kept, and its one `CTP_BATCH_COMPLETED`
 * stream entry (notification id `batch:<id>`) commits with it through the outbox.
 */
export async function completeBatchIfDone(em: EntityManager, batch: LeasedBatch): Promise<boolean> {
  return em.fork().transactional(async (tx) => {
    const [open] = await executeOnOrm(tx, hasOpenItems({ batch_id: batch.id }));
    if (open?.open) return false;
    const counts = await batchCounts(tx, batch.id);
    const [done] = await executeOnOrm(tx, completeBatch({ id: batch.id, counts: JSON.stringify(counts) }));
    if (done === undefined) return false;
    await insertOutboxRows(tx, [
      outboxNotificationRow({
        tenant: batch.tenant,
        notificationId: `batch:${batch.id}`,
        payload: {
          business: batch.tenant,
          transactionType: 'CTP_BATCH_COMPLETED',
          serverNotifyData: {
            batchId: batch.id,
            ...(batch.external_batch_id === null ? {} : { externalBatchId: batch.external_batch_id }),
            status: done.status,
            counts,
            tenant: batch.tenant,
          },
        },
      }),
    ]);
    return true;
  });
}

const lockBatch = defineStatement<{ tenant: string; id: string }, BatchRow>(
  'ctp_batch_lock',
  `select ${BATCH_COLUMNS} from ctp_batch where tenant = $tenant::text and id = $id::uuid for update`,
);

const cancelBatchRow = defineStatement<{ id: string }>(
  'ctp_batch_cancel',
  `update ctp_batch set status = 'CANCELLED', updated_at = now() where id = $id::uuid and status = 'RUNNING'`,
);

const cancelPendingItems = defineStatement<{ batch_id: string }, { n: number }>(
  'ctp_batch_items_cancel',
  `with cancelled as (
     update ctp_batch_item set status = 'CANCELLED', updated_at = now()
      where batch_id = $batch_id::uuid and status = 'PENDING'
     returning 1)
   select count(*)::int as n from cancelled`,
);

/**
 * `POST /v1/ctp/batches/{batchId}/cancel`: items not started yet become `CANCELLED`, started ones
 * finish; the batch is `CANCELLED` at once and ends (its stream entry) when they have. Audited
 * (`batch.cancel`: who, how many items) in the same transaction. Cancelling a batch that already
 * ended changes nothing and answers it as it is.
 */
export async function cancelBatch(
  em: EntityManager,
  request: { tenant: string; batchId: string; actor: string; reason?: string | undefined },
): Promise<{ batch: BatchAnswer; cancelledItems: number }> {
  const { tenant, batchId } = request;
  const cancelledItems = await em.fork().transactional(async (tx) => {
    const [row] = await executeOnOrm(tx, lockBatch({ tenant, id: batchId }));
    if (row === undefined) throw notFound('batch');
    if (row.status !== 'RUNNING') return 0;
    await executeOnOrm(tx, cancelBatchRow({ id: batchId }));
    const [moved] = await executeOnOrm(tx, cancelPendingItems({ batch_id: batchId }));
    const n = Number(moved?.n ?? 0);
    const pkey = await nextAuditKey(tx);
    await executeOnOrm(
      tx,
      auditInsert(pkey, {
        actor: request.actor,
        action: 'batch.cancel',
        target: batchId,
        tenant,
        details: {
          result: 'done',
          cancelledItems: n,
          ...(request.reason?.trim() ? { reason: maskPansIn(request.reason.trim()).slice(0, 1_000) } : {}),
        },
      }),
    );
    return n;
  });
  return { batch: await getBatch(em, tenant, batchId), cancelledItems };
}

import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type {
  BatchFact,
  EntityFact,
  Facts,
  KitFact,
  LogFact,
  OperationFact,
  StreamEntryFact,
} from './facts.ts';
import { query } from './postgres.ts';
import { readSimulatorState } from './sim-state.ts';
import { NOTIFICATION_STREAM, type System } from './system.ts';

async function operations(databaseUrl: string): Promise<OperationFact[]> {
  const rows = await query<{
    id: string;
    tenant: string;
    event: string;
    entity_id: string;
    kit_number: string | null;
    status: string;
    error_code: string | null;
    created_at: Date;
    trace_id: string | null;
    trace_status: string | null;
  }>(
    databaseUrl,
    `select o.id, o.tenant, o.event, o.entity_id, o.kit_number, o.status, o.error_code, o.created_at,
            t."request_trace_ID" as trace_id, t.status_ctp as trace_status
       from ctp_operation o left join "ctp_requestIdTracking" t on t.operation_id = o.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    tenant: r.tenant,
    event: r.event,
    entityId: r.entity_id,
    kitNo: r.kit_number,
    status: r.status,
    errorCode: r.error_code,
    createdAt: r.created_at.toISOString(),
    trace:
      r.trace_id === null ? null : { requestTraceId: r.trace_id, status: r.trace_status ?? '(no status)' },
  }));
}

async function entities(databaseUrl: string): Promise<EntityFact[]> {
  const rows = await query<{
    tenant: string;
    entity_id: string;
    status: string | null;
    customer_id: string | null;
  }>(
    databaseUrl,
    `select b.tenant, b.entity_id, c.ctp_entity_status as status, c."clickToPayCustomerId" as customer_id
       from business_entity b left join ctp_customer c on c.business_entity_fkey = b.pkey`,
  );
  return rows.map((r) => ({
    tenant: r.tenant,
    entityId: r.entity_id,
    status: r.status ?? 'UNREGISTERED',
    clickToPayCustomerId: r.customer_id,
  }));
}

async function kits(databaseUrl: string): Promise<KitFact[]> {
  const rows = await query<{
    tenant: string;
    entity_id: string;
    kit_no: string;
    status: string | null;
    instrument_id: string | null;
  }>(
    databaseUrl,
    `select k.tenant, b.entity_id, k.kit_no, p.ctp_kit_status as status,
            p."clickToPayPaymentInstumentId" as instrument_id
       from kit k join business_entity b on b.pkey = k.business_entity_fkey
       left join ctp_payment p on p.kit_pkey = k.pkey`,
  );
  return rows.map((r) => ({
    tenant: r.tenant,
    entityId: r.entity_id,
    kitNo: r.kit_no,
    status: r.status ?? 'UNREGISTERED',
    clickToPayPaymentInstrumentId: r.instrument_id,
  }));
}

async function batches(databaseUrl: string): Promise<BatchFact[]> {
  const rows = await query<{
    id: string;
    tenant: string;
    batch_status: string;
    seq: number | null;
    entity_id: string | null;
    status: string | null;
    operation_id: string | null;
    reason: string | null;
  }>(
    databaseUrl,
    `select b.id, b.tenant, b.status as batch_status, i.seq, i.entity_id, i.status, i.operation_id, i.reason
       from ctp_batch b left join ctp_batch_item i on i.batch_id = b.id
      order by b.id, i.seq`,
  );
  const byId = new Map<string, BatchFact & { items: BatchFact['items'][number][] }>();
  for (const r of rows) {
    const batch = byId.get(r.id) ?? { id: r.id, tenant: r.tenant, status: r.batch_status, items: [] };
    byId.set(r.id, batch);
    if (r.seq === null || r.status === null) continue;
    batch.items.push({
      seq: r.seq,
      entityId: r.entity_id ?? '',
      status: r.status,
      operationId: r.operation_id,
      reason: r.reason,
    });
  }
  return [...byId.values()];
}

async function notifications(redisUrl: string): Promise<StreamEntryFact[]> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  try {
    const entries: StreamEntryFact[] = [];
    let from = '-';
    for (;;) {
      const page = await redis.xrange(NOTIFICATION_STREAM, from, '+', 'COUNT', 1_000);
      for (const [streamId, fields] of page) {
        const field = (name: string) => {
          const at = fields.indexOf(name);
          return at >= 0 ? (fields[at + 1] ?? '') : '';
        };
        entries.push({ streamId, notificationId: field('notificationId'), payload: field('payload') });
      }
      const last = page.at(-1);
      if (last === undefined || page.length < 1_000) return entries;
      from = `(${last[0]}`;
    }
  } finally {
    redis.disconnect();
  }
}

/** Every captured line of every process; read once the processes have stopped writing. */
export async function readLogs(system: System): Promise<LogFact[]> {
  return Promise.all(
    system.processes.map(async (p) => ({
      source: p.log.file,
      lines: (await readFile(p.log.file, 'utf8')).split('\n').filter((line) => line !== ''),
    })),
  );
}

/** The records, the network and the stream, read once the api and workers have stopped. */
export async function gatherState(
  system: System,
  acceptedOperationIds: readonly string[],
  submittedBatches: Facts['submittedBatches'] = [],
): Promise<Omit<Facts, 'logs'>> {
  const [ops, ents, kitFacts, network, stream, batchFacts] = await Promise.all([
    operations(system.databaseUrl),
    entities(system.databaseUrl),
    kits(system.databaseUrl),
    readSimulatorState(system.simUrl),
    notifications(system.redis.url),
    batches(system.databaseUrl),
  ]);
  return {
    acceptedOperationIds,
    submittedBatches,
    batches: batchFacts,
    operations: ops,
    entities: ents,
    kits: kitFacts,
    network,
    notifications: stream,
  };
}

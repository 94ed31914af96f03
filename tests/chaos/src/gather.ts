import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type { EntityFact, Facts, KitFact, LogFact, OperationFact, StreamEntryFact } from './facts.ts';
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
): Promise<Omit<Facts, 'logs'>> {
  const [ops, ents, kitFacts, network, stream] = await Promise.all([
    operations(system.databaseUrl),
    entities(system.databaseUrl),
    kits(system.databaseUrl),
    readSimulatorState(system.simUrl),
    notifications(system.redis.url),
  ]);
  return {
    acceptedOperationIds,
    operations: ops,
    entities: ents,
    kits: kitFacts,
    network,
    notifications: stream,
  };
}

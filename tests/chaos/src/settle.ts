import { say, sleep } from './clock.ts';
import { query } from './postgres.ts';

interface Backlog {
  readonly unfinished: number;
  readonly byStatus: string;
  readonly pendingSyncs: number;
  readonly unpublishedOutbox: number;
  readonly openBatches: number;
}

async function backlog(databaseUrl: string): Promise<Backlog> {
  const [row] = await query<{
    unfinished: number;
    by_status: string | null;
    pending: number;
    outbox: number;
    batches: number;
  }>(
    databaseUrl,
    `select (select count(*)::int from ctp_operation where status not in ('SUCCESS', 'FAILED')) as unfinished,
            (select string_agg(status || ' ' || n, ', ') from
               (select status, count(*) as n from ctp_operation
                 where status not in ('SUCCESS', 'FAILED') group by status) s) as by_status,
            (select count(*)::int from ctp_pending_sync) as pending,
            (select count(*)::int from ctp_outbox where published_at is null) as outbox,
            (select count(*)::int from ctp_batch where status = 'RUNNING') as batches`,
  );
  return {
    unfinished: row?.unfinished ?? -1,
    byStatus: row?.by_status ?? 'none',
    pendingSyncs: row?.pending ?? -1,
    unpublishedOutbox: row?.outbox ?? -1,
    openBatches: row?.batches ?? -1,
  };
}

const quiet = (b: Backlog) =>
  b.unfinished === 0 && b.pendingSyncs === 0 && b.unpublishedOutbox === 0 && b.openBatches === 0;

/**
 * Waits, bounded, until nothing is left to do: every operation ended, no automatic update
 * waiting, every outbox row (jobs, notifications) published, no batch running; seen twice in a row a second
 * apart, since the end of an operation may promote a waiting sync. False if time ran out (the
 * checker then names what did not end).
 */
export async function settle(databaseUrl: string, timeoutMs: number): Promise<{ ok: boolean; ms: number }> {
  const start = Date.now();
  let lastReport = 0;
  let quietSeen = 0;
  while (Date.now() - start < timeoutMs) {
    const b = await backlog(databaseUrl).catch(() => undefined);
    if (b !== undefined && quiet(b)) {
      quietSeen += 1;
      if (quietSeen >= 2) return { ok: true, ms: Date.now() - start };
    } else {
      quietSeen = 0;
      if (b !== undefined && Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        say(
          `settling: ${b.unfinished} operations not ended (${b.byStatus}), ${b.pendingSyncs} pending syncs, ${b.unpublishedOutbox} outbox rows unpublished, ${b.openBatches} batches running`,
        );
      }
    }
    await sleep(1_000);
  }
  return { ok: false, ms: Date.now() - start };
}
